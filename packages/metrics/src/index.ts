export const packageName = '@tailtrace/metrics';
