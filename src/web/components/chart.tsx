import { useEffect, useRef, type ReactNode } from "react";
import * as echarts from "echarts/core";
import { BarChart, LineChart } from "echarts/charts";
import { GridComponent, LegendComponent, MarkLineComponent, TooltipComponent } from "echarts/components";
import { SVGRenderer } from "echarts/renderers";

echarts.use([
  LineChart,
  BarChart,
  GridComponent,
  TooltipComponent,
  LegendComponent,
  MarkLineComponent,
  SVGRenderer,
]);

/** An ECharts option (animation is always off: charts draw at once and screenshots are stable). */
export type ChartOption = echarts.EChartsCoreOption;

/** The console's palette, in series order. */
export const PALETTE = ["#2563eb", "#f59e0b", "#10b981", "#8b5cf6", "#ef4444", "#0ea5e9"];

const BASE: ChartOption = {
  animation: false,
  color: PALETTE,
  textStyle: {
    fontFamily: "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, 'Liberation Sans', sans-serif",
    color: "#334155",
  },
  grid: { left: 64, right: 28, top: 44, bottom: 40, containLabel: false },
  legend: { top: 0, right: 0 },
  tooltip: { trigger: "axis" },
};

/** One chart, SVG-rendered, resized with its box; `label` describes it to screen readers. */
export function Chart({
  option,
  height = 280,
  label,
  testId,
}: {
  option: ChartOption;
  height?: number;
  label: string;
  testId?: string;
}): ReactNode {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);
  useEffect(() => {
    if (!el.current) return;
    const c = echarts.init(el.current, undefined, { renderer: "svg" });
    chart.current = c;
    const ro = new ResizeObserver(() => c.resize());
    ro.observe(el.current);
    return () => {
      ro.disconnect();
      c.dispose();
      chart.current = null;
    };
  }, []);
  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    c.setOption({ ...BASE, ...option }, true);
    el.current?.setAttribute("data-drawn", "true");
  }, [option]);
  return (
    <div ref={el} className="chart" style={{ height }} role="img" aria-label={label} data-testid={testId} />
  );
}
