// Shared pieces of every tailtrace dashboard: the datasource/job/instance variables, the
// Prometheus query builder bound to `${datasource}`, and panel helpers that always set a
// title, a description and a unit (the lint test in test/dashboards-lint.test.ts holds every
// generated panel to that, and to grafana/dashboard-linter's query rules).
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import * as heatmap from '@grafana/grafana-foundation-sdk/heatmap';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as common from '@grafana/grafana-foundation-sdk/common';

/** Every query and variable reads the datasource the user picked. */
export const DS: common.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

/** The label matchers every selector carries (dashboard-linter: target-job/instance rules). */
export const SEL = 'job=~"$job", instance=~"$instance"';

/** `{job=~"$job", instance=~"$instance", <extra>}` */
export function sel(extra?: string): string {
  return `{${SEL}${extra ? `, ${extra}` : ''}}`;
}

export interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  /** The metric whose series define which jobs/instances the variables offer. */
  variableMetric: string;
}

export function newDashboard(spec: DashboardSpec): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(spec.title)
    .uid(spec.uid)
    .description(spec.description)
    .tags(['tailtrace', ...spec.tags])
    .readonly()
    .refresh('30s')
    .time({ from: 'now-30m', to: 'now' })
    .timezone('browser')
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .withVariable(
      new dashboard.DatasourceVariableBuilder('datasource')
        .label('Data source')
        .type('prometheus')
        .current({ selected: true, text: 'Prometheus', value: 'prometheus' }),
    )
    .withVariable(
      new dashboard.QueryVariableBuilder('job')
        .label('Service (job)')
        .datasource(DS)
        .query({ qryType: 1, query: `label_values(${spec.variableMetric}, job)`, refId: 'PrometheusVariableQueryEditor-VariableQuery' })
        .definition(`label_values(${spec.variableMetric}, job)`)
        .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
        .sort(dashboard.VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        .allValue('.+')
        .current({ selected: true, text: ['All'], value: ['$__all'] }),
    )
    .withVariable(
      new dashboard.QueryVariableBuilder('instance')
        .label('Instance')
        .datasource(DS)
        .query({ qryType: 1, query: `label_values(${spec.variableMetric}{job=~"$job"}, instance)`, refId: 'PrometheusVariableQueryEditor-VariableQuery' })
        .definition(`label_values(${spec.variableMetric}{job=~"$job"}, instance)`)
        .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
        .sort(dashboard.VariableSort.AlphabeticalAsc)
        .multi(true)
        .includeAll(true)
        // All = also series without an instance label: alerts judged per service (ALERTS of a
        // rule that sums over instances) carry none.
        .allValue('.*')
        .current({ selected: true, text: ['All'], value: ['$__all'] }),
    );
}

export interface Q {
  expr: string;
  legend?: string;
  /** Ask Grafana to fetch exemplars (trace IDs) with this query. */
  exemplar?: boolean;
  instant?: boolean;
  format?: 'time_series' | 'table' | 'heatmap';
}

function queries(qs: Q[]): prometheus.DataqueryBuilder[] {
  return qs.map((q, i) => {
    const b = new prometheus.DataqueryBuilder()
      .datasource(DS)
      .refId(String.fromCharCode(65 + i))
      .expr(q.expr)
      .legendFormat(q.legend ?? '__auto');
    if (q.exemplar) b.exemplar(true);
    if (q.instant) b.instant();
    else b.range();
    if (q.format === 'table') b.format(prometheus.PromQueryFormat.Table);
    if (q.format === 'heatmap') b.format(prometheus.PromQueryFormat.Heatmap);
    return b;
  });
}

export interface PanelSpec {
  title: string;
  description: string;
  unit: string;
  queries: Q[];
  width?: number;
  height?: number;
}

export function timeSeries(p: PanelSpec & { stack?: boolean; min?: number }): timeseries.PanelBuilder {
  const b = new timeseries.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .datasource(DS)
    .unit(p.unit)
    .span(p.width ?? 12)
    .height(p.height ?? 8)
    .lineWidth(1)
    .fillOpacity(p.stack ? 30 : 5)
    .showPoints(common.VisibilityMode.Never)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.Table).placement(common.LegendPlacement.Bottom).calcs(['mean', 'max', 'lastNotNull']))
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending))
    .targets(queries(p.queries));
  if (p.stack) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  if (p.min !== undefined) b.min(p.min);
  return b;
}

/** A latency heatmap from Prometheus histogram buckets, with exemplar dots (trace IDs). */
export function latencyHeatmap(p: PanelSpec): heatmap.PanelBuilder {
  return new heatmap.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .datasource(DS)
    .unit(p.unit)
    .span(p.width ?? 12)
    .height(p.height ?? 8)
    .calculate(false)
    .yAxis(new heatmap.YAxisConfigBuilder().unit(p.unit))
    .cellValues(new heatmap.CellValuesBuilder().unit('short'))
    .color(new heatmap.HeatmapColorOptionsBuilder().mode(heatmap.HeatmapColorMode.Scheme).scheme('Oranges').scale(heatmap.HeatmapColorScale.Exponential).exponent(0.5).steps(64).fill('dark-orange').reverse(false))
    .rowsFrame(new heatmap.RowsHeatmapOptionsBuilder().layout(common.HeatmapCellLayout.Le))
    .showValue(common.VisibilityMode.Never)
    .exemplarsColor('rgba(255,0,255,0.7)')
    .showLegend()
    .tooltip(new heatmap.HeatmapTooltipBuilder().mode(common.TooltipDisplayMode.Single).yHistogram(true))
    .targets(queries(p.queries));
}

export interface Column {
  /** Column header. */
  name: string;
  unit: string;
  q: Q;
}

/**
 * A table with one row per label set and one column per instant query (merged by the
 * common labels). Each column gets its own header and unit.
 */
export function labelTable(p: Omit<PanelSpec, 'queries'> & { columns: Column[]; labels: Record<string, string> }): table.PanelBuilder {
  const b = new table.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .datasource(DS)
    .unit(p.unit)
    .span(p.width ?? 24)
    .height(p.height ?? 8)
    .targets(queries(p.columns.map((c) => ({ ...c.q, instant: true, format: 'table' }))))
    .withTransformation({ id: 'merge', options: {} })
    .withTransformation({
      id: 'organize',
      options: {
        excludeByName: { Time: true },
        indexByName: {},
        renameByName: {
          ...p.labels,
          ...Object.fromEntries(p.columns.map((c, i) => [`Value #${String.fromCharCode(65 + i)}`, c.name])),
        },
      },
    });
  p.columns.forEach((c, i) => {
    b.overrideByName(`Value #${String.fromCharCode(65 + i)}`, [{ id: 'unit', value: c.unit }]);
    b.overrideByName(c.name, [{ id: 'unit', value: c.unit }]);
  });
  return b;
}

export function statPanel(p: PanelSpec): stat.PanelBuilder {
  return new stat.PanelBuilder()
    .title(p.title)
    .description(p.description)
    .datasource(DS)
    .unit(p.unit)
    .span(p.width ?? 6)
    .height(p.height ?? 4)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']))
    .targets(queries(p.queries));
}

export function row(title: string): dashboard.RowBuilder {
  return new dashboard.RowBuilder(title);
}

/** Stable JSON: panel ids in order, so regenerating gives byte-identical files. */
export function finish(b: dashboard.DashboardBuilder): dashboard.Dashboard {
  const d = b.build();
  let id = 1;
  for (const p of d.panels ?? []) {
    (p as { id?: number }).id = id++;
  }
  return d;
}

/** `histogram_quantile(q, sum by (le, <by>) (rate(<metric>_bucket{sel}[$__rate_interval])))` */
export function hq(q: number, metric: string, by: string, extra?: string): string {
  return `histogram_quantile(${q}, sum by (le, ${by}) (rate(${metric}_bucket${sel(extra)}[$__rate_interval])))`;
}

/** `sum by (<by>) (rate(<metric>{sel}[$__rate_interval]))` */
export function sumRate(metric: string, by: string, extra?: string): string {
  return `sum by (${by}) (rate(${metric}${sel(extra)}[$__rate_interval]))`;
}

export { dashboard, common };
