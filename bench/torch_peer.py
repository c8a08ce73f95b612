#!/usr/bin/python3
"""The PyTorch peer of bench/engine.ts and bench/recipe.ts: what a PyTorch user writes for the same cases.

  torch_peer.py case "<resnet34|mobilenet_v2> <inference|lora-train>" --mobilenet FILE [--iters 5]
      [--batch 32] [--threads 2]
  torch_peer.py recipe --data ROOT --mobilenet FILE [--epochs 2] [--threads 2] [--num-workers 1]

`case` prints one JSON line {name, imgs: img/s per timed iteration, rssMiB}, the protocol of engine.ts's
own cases. `recipe` runs the seed recipe on MobileNetV2 (LoRA r 8, alpha 16 on the 1x1 expand and project
convs of expanded_conv_6..16, AdamW lr 1e-4 wd 1e-4, batch 32, flip + rotation(10) + ColorJitter(0.2, 0.2,
0.2, 0.1) with torchvision on PIL images in a DataLoader) and prints {epochs: [{seconds, valAcc}], wallS}.
"""
import argparse, json, math, os, re, resource, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

RANK, ALPHA = 8, 16
RESNET_TARGETS = r'^layer[34]\.\d+\.conv[12]$'
MOBILENET_TARGETS = r'MobilenetV2/expanded_conv_([6-9]|1[0-6])/(expand|project)$'


class LoraConv(nn.Module):
    """PEFT's LoRA on a Conv2d: base(x) + B(A(x)) * alpha/r, A the base's kxk geometry to r, B 1x1 r to out."""

    def __init__(self, base):
        super().__init__()
        self.base = base
        self.lora_A = nn.Conv2d(base.in_channels, RANK, base.kernel_size, base.stride, base.padding, bias=False)
        self.lora_B = nn.Conv2d(RANK, base.out_channels, 1, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.scaling = ALPHA / RANK

    def forward(self, x):
        return self.base(x) + self.lora_B(self.lora_A(x)) * self.scaling


class OnnxCnn(nn.Module):
    """A plain ONNX CNN (Conv, Clip, Relu, Add, GlobalAveragePool, Flatten) as torch modules, up to 'features'."""

    def __init__(self, path):
        super().__init__()
        import onnx
        from onnx import numpy_helper

        m = onnx.load(path)
        inits = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in m.graph.initializer}
        self.layers = nn.ModuleDict()
        self.plan = []  # (module key, input value names, output value name)
        for i, n in enumerate(m.graph.node):
            at = {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
            if n.op_type == 'Conv':
                w = inits[n.input[1]]
                group = at.get('group', 1)
                top, left, bottom, right = at.get('pads', [0, 0, 0, 0])
                symmetric = top == bottom and left == right
                conv = nn.Conv2d(w.shape[1] * group, w.shape[0], tuple(w.shape[2:]), tuple(at.get('strides', [1, 1])),
                                 (top, left) if symmetric else 0, groups=group, bias=len(n.input) > 2)
                conv.weight.data.copy_(w)
                if len(n.input) > 2:
                    conv.bias.data.copy_(inits[n.input[2]])
                mod = conv if symmetric else nn.Sequential(nn.ZeroPad2d((left, right, top, bottom)), conv)
                ins = n.input[:1]
            elif n.op_type == 'Clip':
                lo, hi = (float(inits[k]) for k in n.input[1:3])
                mod = nn.ReLU6() if (lo, hi) == (0.0, 6.0) else nn.Hardtanh(lo, hi)
                ins = n.input[:1]
            elif n.op_type == 'Relu':
                mod, ins = nn.ReLU(), n.input[:1]
            elif n.op_type == 'Add':
                mod, ins = None, n.input[:2]
            elif n.op_type == 'GlobalAveragePool':
                mod, ins = nn.AdaptiveAvgPool2d(1), n.input[:1]
            elif n.op_type == 'Flatten':
                mod, ins = nn.Flatten(), n.input[:1]
            elif n.op_type == 'Identity':
                mod, ins = nn.Identity(), n.input[:1]
            else:
                raise SystemExit(f'{path}: no torch module for {n.op_type}')
            key = str(i)
            if mod is not None:
                self.layers[key] = mod
            self.plan.append((key if mod is not None else None, list(ins), n.output[0], n.name))
            if n.output[0] == 'features':
                break
        needed, kept = {'features'}, []
        for step in reversed(self.plan):  # only what 'features' needs (the file's own classifier is not)
            if step[2] in needed:
                kept.append(step)
                needed.update(step[1])
        self.plan = kept[::-1]
        for key in set(self.layers) - {k for k, _, _, _ in self.plan}:
            del self.layers[key]
        self.names = {key: name for key, _, _, name in self.plan if key is not None}

    def forward(self, x):
        v = {'input': x}
        for key, ins, out, _ in self.plan:
            v[out] = v[ins[0]] + v[ins[1]] if key is None else self.layers[key](v[ins[0]])
        return v['features']

    def add_lora(self, targets):
        for key, name in self.names.items():
            if re.search(targets, name) and isinstance(self.layers[key], nn.Conv2d):
                self.layers[key] = LoraConv(self.layers[key])


def build(model_name, mobilenet):
    """The backbone with its base frozen, LoRA on the seed's targets and a new Linear head, as nn.Sequential."""
    torch.manual_seed(0)
    if model_name == 'resnet34':
        import torchvision

        net = torchvision.models.resnet34(weights=None)
        width = net.fc.in_features
        net.fc = nn.Identity()
        for blk_name, blk in list(net.named_modules()):
            for conv in ('conv1', 'conv2'):
                if re.search(RESNET_TARGETS, f'{blk_name}.{conv}'):
                    setattr(blk, conv, LoraConv(getattr(blk, conv)))
    else:
        net = OnnxCnn(mobilenet)
        net.add_lora(MOBILENET_TARGETS)
        width = 1280
    for name, q in net.named_parameters():
        q.requires_grad_('lora_' in name)
    model = nn.Sequential(net, nn.Linear(width, 2))
    model.eval()  # BatchNorm in eval mode, as in the seed recipe
    return model


def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(a):
    model_name, kind = a.name.split(' ')
    model = build(model_name, a.mobilenet)
    x = torch.empty(a.batch, 3, 224, 224).uniform_(-2, 2)
    y = torch.arange(a.batch) % 2
    if kind == 'inference':
        def once():
            with torch.inference_mode():
                model(x)
    else:
        opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=1e-4, weight_decay=1e-4)

        def once():
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
    once()
    imgs = []
    for _ in range(a.iters):
        t0 = time.perf_counter()
        once()
        imgs.append(a.batch / (time.perf_counter() - t0))
    print(json.dumps({'name': a.name, 'imgs': imgs, 'rssMiB': rss_mib()}))


def labelled(folder):
    files = sorted(f for f in os.listdir(folder) if f.lower().endswith(('.jpg', '.jpeg', '.png')))
    return [(os.path.join(folder, f), 0 if f.startswith('notsmoking') else 1) for f in files]


class Images(torch.utils.data.Dataset):
    def __init__(self, items, transform):
        self.items, self.transform = items, transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        from PIL import Image

        path, label = self.items[i]
        with Image.open(path) as img:
            return self.transform(img.convert('RGB')), label


def run_recipe(a):
    from torchvision import transforms

    t_start = time.perf_counter()
    torch.manual_seed(42)
    model = build('mobilenet_v2', a.mobilenet)
    norm = [transforms.ToTensor(), transforms.Normalize([0.5] * 3, [0.5] * 3)]
    train_tf = transforms.Compose([
        transforms.Resize((224, 224)), transforms.RandomHorizontalFlip(), transforms.RandomRotation(10),
        transforms.ColorJitter(0.2, 0.2, 0.2, 0.1), *norm])
    eval_tf = transforms.Compose([transforms.Resize((224, 224)), *norm])
    kw = {'batch_size': 32, 'num_workers': a.num_workers, 'persistent_workers': a.num_workers > 0}
    train = torch.utils.data.DataLoader(
        Images(labelled(os.path.join(a.data, 'Training/Training')), train_tf), shuffle=True, **kw)
    val = torch.utils.data.DataLoader(Images(labelled(os.path.join(a.data, 'Validation/Validation')), eval_tf), **kw)
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=1e-4, weight_decay=1e-4)
    epochs, best = [], None
    for epoch in range(a.epochs):
        t0 = time.perf_counter()
        for x, y in train:
            opt.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            opt.step()
        correct = 0
        with torch.inference_mode():
            for x, y in val:
                correct += int((model(x).argmax(1) == y).sum())
        acc = correct / len(val.dataset)
        if best is None or acc > best[0]:
            best = (acc, {k: t.clone() for k, t in model.state_dict().items()})
        epochs.append({'epoch': epoch + 1, 'seconds': time.perf_counter() - t0, 'valAcc': acc})
        print(json.dumps(epochs[-1]), file=sys.stderr, flush=True)
    print(json.dumps({'epochs': epochs, 'wallS': time.perf_counter() - t_start, 'rssMiB': rss_mib()}))


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest='cmd', required=True)
    c = sub.add_parser('case')
    c.add_argument('name')
    c.add_argument('--iters', type=int, default=5)
    c.add_argument('--batch', type=int, default=32)
    r = sub.add_parser('recipe')
    r.add_argument('--data', required=True)
    r.add_argument('--epochs', type=int, default=2)
    r.add_argument('--num-workers', type=int, default=1)
    for s in (c, r):
        s.add_argument('--mobilenet', required=True)
        s.add_argument('--threads', type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    run_case(a) if a.cmd == 'case' else run_recipe(a)


main()
