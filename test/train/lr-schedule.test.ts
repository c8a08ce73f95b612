import assert from 'node:assert/strict';
import { test } from 'node:test';
import { learningRate, type ScheduleConfig } from '../../src/train/lr-schedule.js';

const base: ScheduleConfig = { name: 'constant', lr: 1e-3, warmupSteps: 0, totalSteps: 100 };
const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} vs ${b}`);

test('constant stays at the peak', () => {
  for (const s of [0, 50, 99]) close(learningRate(base, s), 1e-3);
});

test('cosine starts at the peak, halves midway and ends at the floor', () => {
  const c = { ...base, name: 'cosine' as const, minLr: 1e-5 };
  close(learningRate(c, 0), 1e-3);
  close(learningRate(c, 50), (1e-3 + 1e-5) / 2);
  close(learningRate(c, 100), 1e-5);
});

test('linear warmup climbs to the peak, then the schedule takes over', () => {
  const c = { ...base, name: 'linear' as const, warmupSteps: 10 };
  close(learningRate(c, 0), 1e-4);
  close(learningRate(c, 9), 1e-3);
  close(learningRate(c, 10), 1e-3);
  close(learningRate(c, 55), 5e-4);
});

test('step decays by gamma every stepSize steps', () => {
  const c = { ...base, name: 'step' as const, stepSize: 30, gamma: 0.5 };
  close(learningRate(c, 29), 1e-3);
  close(learningRate(c, 30), 5e-4);
  close(learningRate(c, 65), 2.5e-4);
});
