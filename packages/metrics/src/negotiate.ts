// Content negotiation for /metrics. Prometheus with exemplar storage sends e.g.
// `application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,
//  text/plain;version=0.0.4;q=0.3,*/*;q=0.2`; curl sends `*/*`. We answer OpenMetrics only when it
// is asked for explicitly with a q at least that of the classic format, classic text otherwise.

export type ExpositionFormat = 'openmetrics' | 'text';

export function negotiate(accept: string | undefined): ExpositionFormat {
  if (!accept || !accept.includes('openmetrics')) return 'text';
  let qOpenMetrics = 0;
  let qText = 0;
  for (const range of accept.split(',')) {
    const params = range.split(';');
    const type = (params[0] ?? '').trim().toLowerCase();
    let q = 1;
    let version = '';
    for (let i = 1; i < params.length; i++) {
      const [k, v] = (params[i] ?? '').split('=').map((s) => s.trim());
      if (k === 'q') q = Number(v);
      else if (k === 'version') version = (v ?? '').toLowerCase();
    }
    if (!Number.isFinite(q)) continue;
    if (type === 'application/openmetrics-text') {
      // 1.0.0 and 0.0.1 share the text syntax we write; other versions are unknown to us.
      if (version === '' || version === '1.0.0' || version === '0.0.1') qOpenMetrics = Math.max(qOpenMetrics, q);
    } else if (type === 'text/plain' || type === '*/*' || type === 'text/*') {
      qText = Math.max(qText, q);
    }
  }
  return qOpenMetrics > 0 && qOpenMetrics >= qText ? 'openmetrics' : 'text';
}
