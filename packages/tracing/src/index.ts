export const packageName = '@tailtrace/tracing';
