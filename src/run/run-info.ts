import { z } from 'zod';
import type { LoraModel } from '../lora/lora-model.js';
import type { Preprocess } from '../models/backbone.js';
import { describeIssue, valueAt } from './describe-issue.js';
import { trainConfigSchema, type TrainConfig } from './train-config.js';

/** config.json's format. Folders written before the field existed hold the same fields: version 1. */
export const RUN_FORMAT_VERSION = 1;

const preprocessSchema = z.object({
  size: z.tuple([z.number().int().min(1).max(8192), z.number().int().min(1).max(8192)]),
  mean: z.tuple([z.number().finite(), z.number().finite(), z.number().finite()]),
  std: z.tuple([
    z.number().finite().positive(),
    z.number().finite().positive(),
    z.number().finite().positive(),
  ]),
}) satisfies z.ZodType<Preprocess>;

/**
 * What a run folder's config.json records: the training settings, plus what evaluate, predict and serve
 * need to use the model (the adapted convs, the classes in output order, the preprocessing, the data
 * layout found and the decision threshold).
 */
export const runInfoSchema = trainConfigSchema.extend({
  version: z.literal(RUN_FORMAT_VERSION).default(RUN_FORMAT_VERSION),
  targets: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  classes: z
    .array(z.string().min(1))
    .min(2)
    .refine((c) => new Set(c).size === c.length, 'must be distinct names'),
  preprocess: preprocessSchema,
  layout: z.string(),
  /** The run folders this model is the soup of (`smoker-lora soup`); absent for a trained run. */
  soupOf: z.array(z.string().min(1)).min(2).optional(),
});

export type RunInfo = z.infer<typeof runInfoSchema>;

export function makeRunInfo(
  c: TrainConfig,
  data: { classes: string[]; layout: string },
  model: LoraModel,
): RunInfo {
  return {
    version: RUN_FORMAT_VERSION,
    ...c,
    targets: model.config.targets,
    classes: data.classes,
    preprocess: model.backbone.preprocess,
    layout: data.layout,
  };
}

/** Checks a parsed config.json (see readRunInfo); `where` names it in errors. */
export function parseRunInfo(raw: unknown, where: string): RunInfo {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new Error(`${where}: not a JSON object; pass a run folder written by 'smoker-lora train'`);
  const version = (raw as { version?: unknown }).version;
  if (typeof version === 'number' && version > RUN_FORMAT_VERSION)
    throw new Error(
      `${where}: format version ${version} is newer than this smoker-lora reads (${RUN_FORMAT_VERSION}); upgrade smoker-lora`,
    );
  const parsed = runInfoSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${where}: ${describeIssues(parsed.error.issues, raw)}`);
  return parsed.data;
}

/** The first problem as `field 'a.b[1]' must be ...`, with the count of the others. */
function describeIssues(issues: readonly z.core.$ZodIssue[], raw: unknown): string {
  const [first] = issues;
  const field = first.path
    .map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`))
    .join('')
    .slice(1);
  const more =
    issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  return `field '${field || '(root)'}' ${describeIssue(first, valueAt(raw, first.path))}${more}`;
}
