import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { extname } from 'node:path';
import { loadSafetensors } from '../weights/safetensors-file.js';
import { loadTorchCheckpoint } from '../weights/torch-checkpoint.js';
import { downloadCached } from './download.js';
import type { ResNetDepth } from './resnet.js';
import type { StateDict } from './state-dict.js';

/** torchvision's ImageNet weights (IMAGENET1K_V1), as `torchvision.models.resnetNN(weights=...)` fetches them. */
export const TORCHVISION_RESNET_URLS: Record<ResNetDepth, string> = {
  18: 'https://download.pytorch.org/models/resnet18-f37072fd.pth',
  34: 'https://download.pytorch.org/models/resnet34-b627a593.pth',
  50: 'https://download.pytorch.org/models/resnet50-11ad3fa6.pth',
};

/**
 * The state dict for a ResNet: `source` is a local .pth or .safetensors file, or an http(s) URL to
 * download into the cache (default: torchvision's official weights for `depth`). A download that
 * does not load as weights is removed from the cache, so the next run fetches it again.
 */
export async function resolveResNetWeights(
  depth: ResNetDepth,
  source?: string,
  cacheDir?: string,
): Promise<StateDict> {
  const from = source ?? TORCHVISION_RESNET_URLS[depth];
  if (!from) throw new Error(`resnet: no default weights for depth ${depth} (18, 34 or 50)`);
  if (!/^https?:\/\//i.test(from)) return loadStateDict(from);
  const path = await downloadCached(from, cacheDir);
  try {
    return await loadStateDict(path);
  } catch (e) {
    await rm(path, { force: true });
    throw new Error(`${(e as Error).message} (downloaded from ${from}; removed from the cache)`);
  }
}

/** Reads a state dict by file type: PyTorch zip checkpoint (.pth/.pt) or safetensors. */
export async function loadStateDict(path: string): Promise<StateDict> {
  if (!existsSync(path)) throw new Error(`${path}: weights file not found`);
  const ext = extname(path).toLowerCase();
  if (ext === '.safetensors') return (await loadSafetensors(path)).tensors;
  if (ext === '.pth' || ext === '.pt') return loadTorchCheckpoint(path);
  throw new Error(`${path}: unsupported weights file type '${ext}' (expected .pth, .pt or .safetensors)`);
}
