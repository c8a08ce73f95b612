import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import { SEED_RECIPE, type TrainConfig } from '../../train/train-config.js';
import { parse } from '../parse.js';
import { trainInTerminal } from '../train-in-terminal.js';

const d = SEED_RECIPE;

/** The options of a training run, shared by `train` and `sweep`. */
export function addTrainOptions(cmd: Command): Command {
  return cmd
    .requiredOption(
      '--data <folder>',
      'data set root (Kaggle layout, split folders, class folders or one flat folder)',
    )
    .option('--backbone <name|file>', 'resnet18, resnet34, resnet50, or an .onnx CNN', d.backbone)
    .option(
      '--weights <path|url>',
      'ResNet ImageNet weights (.pth or .safetensors); default: torchvision download',
    )
    .option('--epochs <n>', 'epochs', parse.int(1), d.epochs)
    .option('--batch <n>', 'batch size', parse.int(1), d.batch)
    .option('--lr <x>', 'peak learning rate', parse.number(0), d.lr)
    .option('--weight-decay <x>', 'weight decay', parse.number(0), d.weightDecay)
    .addOption(new Option('--optimizer <name>', 'optimizer').choices(['adamw', 'sgd']).default(d.optimizer))
    .option('--momentum <x>', 'SGD momentum', parse.number(0, 1), d.momentum)
    .option('--rank <n>', 'LoRA rank r', parse.int(1), d.rank)
    .option('--alpha <x>', 'LoRA alpha (scaling alpha/r)', parse.number(0), d.alpha)
    .option('--targets <regex>', 'Conv nodes to adapt (full-match regex); default per backbone')
    .addOption(
      new Option('--schedule <name>', 'LR schedule')
        .choices(['constant', 'cosine', 'step', 'linear'])
        .default(d.schedule),
    )
    .option('--warmup-epochs <n>', 'linear warmup epochs', parse.number(0), d.warmupEpochs)
    .option('--step-epochs <n>', "'step' schedule: epochs between decays", parse.int(1), d.stepEpochs)
    .option('--gamma <x>', "'step' schedule: decay factor", parse.number(0, 1), d.gamma)
    .option('--min-lr <x>', "'cosine'/'linear' schedule floor", parse.number(0), d.minLr)
    .option(
      '--patience <n>',
      'early stopping: epochs without a better validation accuracy (0: off)',
      parse.int(0),
      d.patience,
    )
    .option('--label-smoothing <x>', 'label smoothing', parse.number(0, 1), d.labelSmoothing)
    .option('--class-weights <w0,w1>', 'cross-entropy class weights', parse.list(parse.number(0)))
    .option('--clip-norm <x>', 'clip the gradient norm (0: off)', parse.number(0), d.clipNorm)
    .option('--hflip <p>', 'augmentation: horizontal flip probability', parse.number(0, 1), d.augment.hflip)
    .option('--rotate <deg>', 'augmentation: rotation range ±degrees', parse.number(0, 180), d.augment.rotate)
    .option(
      '--jitter <b,c,s,h>',
      'augmentation: colour jitter brightness,contrast,saturation,hue',
      parse.list(parse.number(0)),
      [
        d.augment.jitter.brightness,
        d.augment.jitter.contrast,
        d.augment.jitter.saturation,
        d.augment.jitter.hue,
      ],
    )
    .option('--tta', 'test-time flip: average with the mirrored image on validation', d.tta)
    .option('--seed <n>', 'random seed', parse.int(0), d.seed)
    .option('--threads <n>', 'ONNX Runtime threads', parse.int(1), availableParallelism())
    .option(
      '--workers <n>',
      'data loading worker threads',
      parse.int(1),
      Math.max(1, availableParallelism() - 1),
    )
    .addOption(
      new Option('--on-bad-image <policy>', 'corrupt or unreadable images')
        .choices(['skip', 'fail'])
        .default(d.onBadImage),
    )
    .option(
      '--split <train,val,test>',
      'split of one unsplit folder',
      parse.list(parse.number(0, 1)),
      d.splitFractions,
    );
}

type Opts = Record<string, unknown> & { jitter: number[]; split: number[] };

export function configFromOptions(o: Opts, out: string): TrainConfig {
  if (o.jitter.length !== 4)
    throw new Error(`--jitter ${o.jitter.join(',')}: give four numbers brightness,contrast,saturation,hue`);
  if (o.split.length !== 3)
    throw new Error(`--split ${o.split.join(',')}: give three fractions train,val,test`);
  const [brightness, contrast, saturation, hue] = o.jitter;
  return {
    data: o.data as string,
    out,
    backbone: o.backbone as string,
    weights: o.weights as string | undefined,
    epochs: o.epochs as number,
    batch: o.batch as number,
    lr: o.lr as number,
    weightDecay: o.weightDecay as number,
    optimizer: o.optimizer as TrainConfig['optimizer'],
    momentum: o.momentum as number,
    rank: o.rank as number,
    alpha: o.alpha as number,
    targets: o.targets as string | undefined,
    schedule: o.schedule as TrainConfig['schedule'],
    warmupEpochs: o.warmupEpochs as number,
    stepEpochs: o.stepEpochs as number,
    gamma: o.gamma as number,
    minLr: o.minLr as number,
    patience: o.patience as number,
    labelSmoothing: o.labelSmoothing as number,
    classWeights: o.classWeights as number[] | undefined,
    clipNorm: o.clipNorm as number,
    augment: {
      hflip: o.hflip as number,
      rotate: o.rotate as number,
      jitter: { brightness, contrast, saturation, hue },
    },
    tta: Boolean(o.tta),
    seed: o.seed as number,
    threads: o.threads as number,
    workers: o.workers as number,
    onBadImage: o.onBadImage as TrainConfig['onBadImage'],
    splitFractions: o.split as [number, number, number],
  };
}

export function trainCommand(): Command {
  return addTrainOptions(
    new Command('train').description('fine-tune a backbone with LoRA; writes a run folder'),
  )
    .requiredOption('--out <folder>', 'run folder for the adapter, merged model, metrics and report')
    .option('--resume', 'continue the unfinished run in --out from its checkpoint')
    .action(async (o: Opts) => {
      const config = configFromOptions(o, o.out as string);
      const done = await trainInTerminal(
        config,
        Boolean(o.resume),
        'continue with the same command plus --resume',
      );
      done?.progress.log(
        `run folder: ${config.out} (model.onnx, adapter_model.safetensors, metrics.json, report.md)`,
      );
    });
}
