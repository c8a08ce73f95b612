import { fuzzTest } from './fuzz-test.js';

fuzzTest('mutated ONNX models', new URL('./onnx-import.target.js', import.meta.url).href);
