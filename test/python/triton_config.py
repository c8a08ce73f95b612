#!/usr/bin/python3
"""Parses a Triton config.pbtxt with protobuf's own text-format parser against Triton's ModelConfig schema
(the fields an ONNX classifier's configuration uses, with the names, numbers and types of
triton-inference-server/common protobuf/model_config.proto), and prints it as JSON. An unknown field, a
wrong type or bad syntax exits 1 with protobuf's message.
usage: triton_config.py <config.pbtxt>"""
import json
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory, text_format

F = descriptor_pb2.FieldDescriptorProto
fd = descriptor_pb2.FileDescriptorProto(name="model_config_subset.proto", package="inference", syntax="proto3")

data_type = fd.enum_type.add(name="DataType")
for i, n in enumerate(["INVALID", "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32",
                       "INT64", "FP16", "FP32", "FP64", "STRING", "BF16"]):
    data_type.value.add(name=f"TYPE_{n}", number=i)


def message(name, fields, parent=None):
    m = (parent.nested_type if parent else fd.message_type).add(name=name)
    for fname, number, ftype, label, tname in fields:
        f = m.field.add(name=fname, number=number, type=ftype, label=label)
        if tname:
            f.type_name = tname
    return m


O, R = F.LABEL_OPTIONAL, F.LABEL_REPEATED
message("ModelTensorReshape", [("shape", 1, F.TYPE_INT64, R, None)])
message("ModelInput", [
    ("name", 1, F.TYPE_STRING, O, None), ("data_type", 2, F.TYPE_ENUM, O, ".inference.DataType"),
    ("dims", 4, F.TYPE_INT64, R, None), ("reshape", 5, F.TYPE_MESSAGE, O, ".inference.ModelTensorReshape"),
])
message("ModelOutput", [
    ("name", 1, F.TYPE_STRING, O, None), ("data_type", 2, F.TYPE_ENUM, O, ".inference.DataType"),
    ("dims", 3, F.TYPE_INT64, R, None), ("label_filename", 4, F.TYPE_STRING, O, None),
])
message("ModelDynamicBatching", [
    ("preferred_batch_size", 1, F.TYPE_INT32, R, None), ("max_queue_delay_microseconds", 2, F.TYPE_UINT64, O, None),
])
policy = message("ModelVersionPolicy", [
    ("latest", 1, F.TYPE_MESSAGE, O, ".inference.ModelVersionPolicy.Latest"),
    ("all", 2, F.TYPE_MESSAGE, O, ".inference.ModelVersionPolicy.All"),
])
message("Latest", [("num_versions", 1, F.TYPE_UINT32, O, None)], policy)
message("All", [], policy)
message("ModelConfig", [
    ("name", 1, F.TYPE_STRING, O, None), ("platform", 2, F.TYPE_STRING, O, None),
    ("version_policy", 3, F.TYPE_MESSAGE, O, ".inference.ModelVersionPolicy"),
    ("max_batch_size", 4, F.TYPE_INT32, O, None),
    ("input", 5, F.TYPE_MESSAGE, R, ".inference.ModelInput"),
    ("output", 6, F.TYPE_MESSAGE, R, ".inference.ModelOutput"),
    ("dynamic_batching", 11, F.TYPE_MESSAGE, O, ".inference.ModelDynamicBatching"),
])

pool = descriptor_pool.DescriptorPool()
pool.Add(fd)
ModelConfig = message_factory.MessageFactory(pool).GetPrototype(pool.FindMessageTypeByName("inference.ModelConfig"))
config = ModelConfig()
try:
    text_format.Parse(open(sys.argv[1]).read(), config)
except text_format.ParseError as e:
    sys.exit(f"{sys.argv[1]}: {e}")
print(json.dumps(json_format.MessageToDict(config, preserving_proto_field_name=True)))
