export const packageName = '@tailtrace/profiler';
