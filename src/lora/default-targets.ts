import type { Backbone } from '../models/backbone.js';

/**
 * The seed recipe's targets per backbone: every 3x3 conv of ResNet's layer3 and layer4, and for
 * MobileNetV2 the 1x1 expand and project convs of the blocks at stride 16 and 32 (expanded_conv_6..16),
 * its counterparts of layer3 and layer4.
 */
export function defaultTargets(backbone: Backbone): string {
  if (/^resnet(18|34)$/.test(backbone.name)) return String.raw`layer[34]\.\d+\.conv[12]`;
  if (backbone.name === 'resnet50') return String.raw`layer[34]\.\d+\.conv2`;
  if (backbone.graph.nodes.some((n) => n.name.startsWith('MobilenetV2/expanded_conv_'))) {
    return String.raw`MobilenetV2/expanded_conv_([6-9]|1[0-6])/(expand|project)`;
  }
  throw new Error(
    `lora: no default targets for backbone '${backbone.name}'; name the Conv nodes to adapt with --targets <regex>`,
  );
}
