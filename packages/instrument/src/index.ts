export const packageName = '@tailtrace/instrument';
