import { fuzzTest } from './fuzz-test.js';

fuzzTest('mutated torch.save checkpoints', new URL('./torch-checkpoint.target.js', import.meta.url).href);
