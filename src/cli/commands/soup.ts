import { Command } from 'commander';
import { soupRuns } from '../../jobs/soup.js';

export function soupCommand(): Command {
  return new Command('soup')
    .description(
      "average finished runs of one network (one recipe's seeds, say) into one plain model: W + the mean of their merged LoRA updates, the mean head",
    )
    .argument('<runs...>', "two or more folders written by 'smoker-lora train'")
    .requiredOption(
      '--out <folder>',
      'a new or empty folder for the soup, a run folder evaluate and serve take',
    )
    .action(async (runs: string[], o: { out: string }) => {
      await soupRuns(runs, o.out);
      process.stdout.write(`soup of ${runs.length} runs: wrote ${o.out}/model.onnx and config.json\n`);
    });
}
