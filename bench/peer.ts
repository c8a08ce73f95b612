import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The PyTorch peer (bench/torch_peer.py); from dist/bench/ it lies two folders up, in the sources. */
const SCRIPT = fileURLToPath(new URL('../../bench/torch_peer.py', import.meta.url));
/** Debian's interpreter, where `apt-get install python3-torch` puts torch (a pyenv or venv python3 may lack it). */
export const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
export const TORCH_INSTALL = 'apt-get install -y python3-torch python3-torchvision python3-onnx';

/** PyTorch's version if torch, torchvision and onnx import in that interpreter, else undefined. */
export function torchVersion(): string | undefined {
  try {
    const code = 'import torch, torchvision, onnx; print(torch.__version__)';
    return execFileSync(PYTHON, ['-c', code], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/** Runs torch_peer.py with these arguments and returns its last stdout line, parsed. */
export function runTorchPeer(args: string[]): unknown {
  const out = execFileSync(PYTHON, [SCRIPT, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return JSON.parse(out.trim().split('\n').pop()!);
}
