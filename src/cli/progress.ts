import cliProgress from 'cli-progress';
import type { StepInfo } from '../train/trainer.js';

export interface Progress {
  step(info: StepInfo): void;
  /** Ends the epoch's bar before a summary line is printed. */
  endEpoch(): void;
  log(line: string): void;
}

const fmt = (seconds: number) => {
  const s = Math.max(0, Math.round(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

/**
 * A progress bar per epoch on a terminal (epoch, step, loss, accuracy, img/s, ETA of the whole run);
 * plain log lines, a few per epoch, when stdout is a pipe or a file.
 */
export function createProgress(epochs: number, stream: NodeJS.WriteStream = process.stdout): Progress {
  const eta = (i: StepInfo) => fmt(i.etaSeconds);
  if (!stream.isTTY) {
    return {
      step(i) {
        if (i.batch === i.batches || i.batch % Math.max(1, Math.ceil(i.batches / 4)) === 0) {
          stream.write(
            `epoch ${i.epoch + 1}/${epochs} step ${i.batch}/${i.batches} loss ${i.loss.toFixed(4)} acc ${i.acc.toFixed(3)} ${i.imgPerSec.toFixed(1)} img/s eta ${eta(i)}\n`,
          );
        }
      },
      endEpoch() {},
      log: (line) => stream.write(line + '\n'),
    };
  }
  let bar: cliProgress.SingleBar | null = null;
  return {
    step(i) {
      if (!bar) {
        bar = new cliProgress.SingleBar(
          {
            format: `epoch ${i.epoch + 1}/${epochs} [{bar}] {value}/{total} loss {loss} acc {acc} {speed} img/s eta {eta_run}`,
            stream,
            hideCursor: true,
            clearOnComplete: true,
          },
          cliProgress.Presets.shades_classic,
        );
        bar.start(i.batches, 0, {});
      }
      bar.update(i.batch, {
        loss: i.loss.toFixed(4),
        acc: i.acc.toFixed(3),
        speed: i.imgPerSec.toFixed(1),
        eta_run: eta(i),
      });
    },
    endEpoch() {
      bar?.stop();
      bar = null;
    },
    log: (line) => stream.write(line + '\n'),
  };
}
