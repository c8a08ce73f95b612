import { fuzzTest } from './fuzz-test.js';

fuzzTest('mutated safetensors files', new URL('./safetensors.target.js', import.meta.url).href);
