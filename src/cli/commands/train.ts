import { availableParallelism } from 'node:os';
import { Command, Option } from 'commander';
import { SEED_RECIPE, trainConfigSchema, type TrainConfig } from '../../run/train-config.js';
import { SCHEDULE_NAMES } from '../../train/lr-schedule.js';
import { describeIssue, valueAt } from '../../run/describe-issue.js';
import { RUN_FILES } from '../../run/files.js';
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
    .option(
      '--rank-pattern <regex=n>',
      'another rank for the targets a regex matches (PEFT rank_pattern), e.g. .*depthwise=8; repeatable',
      parse.pattern(1),
    )
    .option('--alpha <x>', 'LoRA alpha (scaling alpha/r)', parse.number(0), d.alpha)
    .option('--targets <regex>', 'Conv nodes to adapt (full-match regex); default per backbone')
    .addOption(new Option('--schedule <name>', 'LR schedule').choices(SCHEDULE_NAMES).default(d.schedule))
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
    .option(
      '--class-weights <w0,w1,...>',
      'cross-entropy class weights, one per class',
      parse.list(parse.number(0)),
    )
    .option('--clip-norm <x>', 'clip the gradient norm (0: off)', parse.number(0), d.clipNorm)
    .option('--hflip <p>', 'augmentation: horizontal flip probability', parse.number(0, 1), d.augment.hflip)
    .option('--rotate <deg>', 'augmentation: rotation range ±degrees', parse.number(0, 180), d.augment.rotate)
    .option(
      '--crop-scale <min,max>',
      'augmentation: RandomResizedCrop area fractions, e.g. 0.5,1 (default: no crop)',
      parse.list(parse.number(0, 1)),
    )
    .option(
      '--trivial-augment',
      'augmentation: TrivialAugmentWide, one random op per image after the rotation (default: off)',
    )
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
    )
    .addOption(
      new Option('--keep <epoch>', 'the epoch the run keeps: best on validation, or last')
        .choices(['best', 'last'])
        .default(d.keep),
    )
    .option(
      '--all-labelled',
      'train on training and validation images together, with no validation (the final fit)',
    )
    .option(
      '--image-size <h[,w]>',
      'input size (default: the backbone’s), e.g. 288',
      parse.list(parse.int(32)),
    )
    .option(
      '--ema <decay>',
      'keep an exponential moving average of the trainables (e.g. 0.999; 0: off)',
      parse.number(0, 0.999999),
      d.ema,
    )
    .option(
      '--swa-epochs <n>',
      'average the trainables over the last n epochs (0: off)',
      parse.int(0),
      d.swaEpochs,
    )
    .option(
      '--lp-epochs <n>',
      'train the head alone for the first n epochs (LP-FT; 0: off)',
      parse.int(0),
      d.lpEpochs,
    )
    .option(
      '--mixup <alpha>',
      'mixup of training batches, Beta(alpha, alpha) (0: off)',
      parse.number(0),
      d.mixup,
    )
    .option(
      '--cutmix <alpha>',
      'CutMix of training batches, Beta(alpha, alpha) (0: off)',
      parse.number(0),
      d.cutmix,
    )
    .option('--rslora', 'rsLoRA: scale the update by alpha/√rank')
    .option(
      '--head-dropout <p>',
      "dropout on the features before the new head, in training only (torchvision's MobileNetV2 classifier: 0.2)",
      parse.number(0, 0.99),
    )
    .option(
      '--dora',
      'DoRA: a trained magnitude per output channel times the normalised W + B·A (PEFT use_dora)',
    )
    .option(
      '--threshold <p>',
      'the run’s decision threshold on P(positive class: the second, e.g. smoking)',
      parse.number(0, 1),
      d.threshold,
    );
}

/** commander's parsed options: values of unknown type until checked against the config's schema. */
type Opts = Record<string, unknown>;

/** The flag of a config field, for error messages: `weightDecay` -> `--weight-decay`. */
function flagOf(path: readonly PropertyKey[]): string {
  const [top, sub] = path.map(String);
  const flag = (name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  if (top === 'augment') return flag(sub);
  if (top === 'splitFractions') return '--split';
  return flag(top);
}

/**
 * The one checked place where options become a TrainConfig. Every field of the config must be given a
 * value here (a field without a flag does not compile), and the config's schema checks the values: a
 * value out of range is a one-line error naming its flag.
 */
export function configFromOptions(o: Opts, out: unknown): TrainConfig {
  const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [v]);
  const [jitter, split] = [list(o.jitter), list(o.split)];
  if (jitter.length !== 4)
    throw new Error(`--jitter ${jitter.join(',')}: give four numbers brightness,contrast,saturation,hue`);
  if (split.length !== 3) throw new Error(`--split ${split.join(',')}: give three fractions train,val,test`);
  const cropScale = o.cropScale === undefined ? undefined : list(o.cropScale);
  if (cropScale && cropScale.length !== 2)
    throw new Error(`--crop-scale ${cropScale.join(',')}: give two area fractions min,max, e.g. 0.5,1`);
  const candidate: { [K in keyof TrainConfig]-?: unknown } = {
    data: o.data,
    out,
    backbone: o.backbone,
    weights: o.weights,
    epochs: o.epochs,
    batch: o.batch,
    lr: o.lr,
    weightDecay: o.weightDecay,
    optimizer: o.optimizer,
    momentum: o.momentum,
    rank: o.rank,
    rankPattern: o.rankPattern,
    alpha: o.alpha,
    targets: o.targets,
    schedule: o.schedule,
    warmupEpochs: o.warmupEpochs,
    stepEpochs: o.stepEpochs,
    gamma: o.gamma,
    minLr: o.minLr,
    patience: o.patience,
    labelSmoothing: o.labelSmoothing,
    classWeights: o.classWeights,
    clipNorm: o.clipNorm,
    augment: {
      hflip: o.hflip,
      rotate: o.rotate,
      jitter: { brightness: jitter[0], contrast: jitter[1], saturation: jitter[2], hue: jitter[3] },
      // Only when given: a recipe without it keeps its config.json, report and hash.
      ...(cropScale && { cropScale }),
      ...(o.trivialAugment === true && { trivialAugment: true }),
    },
    tta: Boolean(o.tta),
    seed: o.seed,
    threads: o.threads,
    onBadImage: o.onBadImage,
    splitFractions: split,
    keep: o.keep,
    allLabelled: Boolean(o.allLabelled),
    // One number is a square.
    imageSize:
      o.imageSize === undefined ? undefined : [...list(o.imageSize), ...list(o.imageSize)].slice(0, 2),
    ema: o.ema,
    swaEpochs: o.swaEpochs,
    lpEpochs: o.lpEpochs,
    mixup: o.mixup,
    cutmix: o.cutmix,
    rslora: Boolean(o.rslora),
    // Only when given, as --crop-scale.
    dora: o.dora ? true : undefined,
    headDropout: o.headDropout || undefined,
    threshold: o.threshold,
  };
  const parsed = trainConfigSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${flagOf(issue.path)}: ${describeIssue(issue, valueAt(candidate, issue.path))}`);
  }
  return parsed.data;
}

export function trainCommand(): Command {
  return addTrainOptions(
    new Command('train').description('fine-tune a backbone with LoRA; writes a run folder'),
  )
    .requiredOption('--out <folder>', 'run folder for the adapter, merged model, metrics and report')
    .option('--resume', 'continue the unfinished run in --out from its checkpoint')
    .action(async (o: Opts) => {
      const config = configFromOptions(o, o.out);
      const done = await trainInTerminal(
        config,
        Boolean(o.resume),
        'continue with the same command plus --resume',
      );
      done?.progress.log(
        `run folder: ${config.out} (${[RUN_FILES.model, RUN_FILES.adapterWeights, RUN_FILES.metrics, RUN_FILES.report].join(', ')})`,
      );
    });
}
