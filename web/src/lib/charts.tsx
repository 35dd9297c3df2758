// Small charts in plain SVG (no chart library: the bundle stays small). Each chart has a text
// alternative: a caption and the same figures in a visually hidden table for screen readers.
export interface Series {
  name: string;
  colour: string;
}

export interface BarRow {
  label: string;
  values: number[]; // one per series
  text: string[]; // the values as shown (formatted)
}

export function BarChart({ title, series, rows, testId }: { title: string; series: Series[]; rows: BarRow[]; testId?: string }) {
  const max = Math.max(1, ...rows.flatMap((r) => r.values));
  const labelW = 150;
  const barH = 14;
  const gap = 6;
  const rowH = series.length * barH + gap * 2;
  const width = 560;
  const plotW = width - labelW - 110;
  const height = rows.length * rowH + 24;
  return (
    <figure className="chart" data-testid={testId}>
      <figcaption>{title}</figcaption>
      <svg width="100%" viewBox={`0 0 ${width} ${height}`} role="img" aria-label={title}>
        {rows.map((r, i) => {
          const y0 = i * rowH + gap;
          return (
            <g key={r.label}>
              <text x={0} y={y0 + (series.length * barH) / 2 + 4}>{r.label}</text>
              {r.values.map((v, j) => (
                <g key={j}>
                  <rect x={labelW} y={y0 + j * barH} height={barH - 2} width={Math.max(0, (v / max) * plotW)} fill={series[j].colour} />
                  <text x={labelW + Math.max(0, (v / max) * plotW) + 4} y={y0 + j * barH + barH - 4}>{r.text[j]}</text>
                </g>
              ))}
            </g>
          );
        })}
        {series.map((s, j) => (
          <g key={s.name} transform={`translate(${labelW + j * 130}, ${height - 10})`}>
            <rect width={10} height={10} y={-9} fill={s.colour} />
            <text x={14}>{s.name}</text>
          </g>
        ))}
      </svg>
      <table className="sr-only">
        <caption>{title}</caption>
        <thead><tr><th scope="col"></th>{series.map((s) => <th key={s.name} scope="col">{s.name}</th>)}</tr></thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.label}><th scope="row">{r.label}</th>{r.text.map((t, j) => <td key={j}>{t}</td>)}</tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
