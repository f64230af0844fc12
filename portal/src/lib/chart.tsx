// A time-series chart drawn with uPlot (loaded with the page that shows it, never before sign-in).
// `data-points` says how many points it drew, so a test or a script can tell an empty chart from one with data.
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  values: (number | null)[];
}

const COLOURS = ["#635bff", "#0a8f6a", "#d9480f", "#1c7ed6", "#ae3ec9", "#f08c00", "#495057"];

/** Days as YYYY-MM-DD on the x axis (UTC midnight, seconds), one series per group. */
export function Chart({ testId, title, days, series }: { testId: string; title: string; days: string[]; series: Series[] }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = host.current;
    if (!element) return;
    const xs = days.map((day) => Date.parse(`${day}T00:00:00Z`) / 1000);
    const plot = new uPlot(
      {
        title,
        width: Math.max(320, Math.min(element.clientWidth || 720, 960)),
        height: 260,
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
        series: [
          { label: "day" },
          ...series.map((s, index) => ({
            label: s.label,
            stroke: COLOURS[index % COLOURS.length],
            width: 2,
            points: { show: true },
          })),
        ],
        axes: [{}, { label: "tokens", size: 70 }],
      },
      [xs, ...series.map((s) => s.values)],
      element,
    );
    return () => plot.destroy();
  }, [days, series, title]);
  const points = series.reduce((sum, s) => sum + s.values.filter((v) => v !== null).length, 0);
  return <div class="chart" data-testid={testId} data-points={points} role="img" aria-label={title} ref={host} />;
}
