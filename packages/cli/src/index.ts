export { main } from './main.ts';
export { heapMain, table } from './heap.ts';
