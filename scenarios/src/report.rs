//! Study reports: a comparison table for the terminal, and Markdown, CSV, JSON and SVG charts
//! (plotters) for `--out DIR`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::prelude::*;
use serde::Serialize;

use twinworks_twins::trace::csv_field;

use crate::compare::{Selection, StudyRuns, VariantResult};
use crate::study_file::Study;

/// Throughput and WIP over time of one variant, averaged over its replications.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct VariantSeries {
    /// Variant name.
    pub name: String,
    /// Interval ends [h].
    pub t_h: Vec<f64>,
    /// Mean throughput per interval [1/h].
    pub throughput_per_h: Vec<f64>,
    /// Mean WIP per interval.
    pub wip: Vec<f64>,
}

/// Everything a study produced (the JSON report).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct StudyReport {
    /// Study name.
    pub study: String,
    /// The base plant file.
    pub plant: String,
    /// Base seed.
    pub seed: u64,
    /// Whether variants shared random numbers.
    pub crn: bool,
    /// KPIs of the comparison table.
    pub table_kpis: Vec<String>,
    /// Per variant, baseline first.
    pub variants: Vec<VariantResult>,
    /// Ranking and selection, if asked for.
    pub selection: Option<Selection>,
    /// Throughput and WIP over time per variant.
    pub series: Vec<VariantSeries>,
}

impl StudyReport {
    /// Assembles the report.
    pub fn new(
        study: &Study,
        runs: &StudyRuns,
        variants: Vec<VariantResult>,
        selection: Option<Selection>,
    ) -> StudyReport {
        let series = study
            .variants
            .iter()
            .zip(&runs.reports)
            .map(|(v, reps)| {
                let n = reps.iter().map(|r| r.series.len()).min().unwrap_or(0);
                let mean = |f: &dyn Fn(&twinworks_twins::kpi::SeriesPoint) -> f64| -> Vec<f64> {
                    (0..n)
                        .map(|i| reps.iter().map(|r| f(&r.series[i])).sum::<f64>() / reps.len() as f64)
                        .collect()
                };
                VariantSeries {
                    name: v.name.clone(),
                    t_h: mean(&|p| p.t_s / 3600.0),
                    throughput_per_h: mean(&|p| p.throughput_per_h),
                    wip: mean(&|p| p.wip),
                }
            })
            .collect();
        StudyReport {
            study: study.name.clone(),
            plant: study.plant_file.display().to_string(),
            seed: study.seed,
            crn: study.crn,
            table_kpis: study.kpis.clone(),
            variants,
            selection,
            series,
        }
    }

    fn estimate(&self, v: usize, kpi: &str) -> Option<(f64, f64)> {
        self.variants[v]
            .kpis
            .iter()
            .find(|k| k.kpi == kpi)
            .map(|k| (k.mean, k.ci95))
    }

    fn diff(&self, v: usize, kpi: &str) -> Option<(f64, f64, f64)> {
        self.variants[v]
            .vs_baseline
            .iter()
            .find(|k| k.kpi == kpi)
            .map(|k| (k.mean, k.ci95, k.variance_reduction))
    }

    /// The comparison table for the terminal (also the core of the Markdown report).
    pub fn table(&self, markdown: bool) -> String {
        let mut s = String::new();
        for kpi in &self.table_kpis {
            if markdown {
                let _ = writeln!(s, "\n### `{kpi}`\n");
                let _ = writeln!(
                    s,
                    "| variant | n | mean ± 95% CI | vs baseline ± 95% CI | CRN variance reduction |"
                );
                let _ = writeln!(s, "|---|---:|---:|---:|---:|");
            } else {
                let _ = writeln!(s, "\n{kpi}");
                let _ = writeln!(
                    s,
                    "  {:<26} {:>5} {:>24} {:>26} {:>8}",
                    "variant", "n", "mean ± 95% CI", "vs baseline ± 95% CI", "var.red"
                );
            }
            for (v, var) in self.variants.iter().enumerate() {
                let est = self
                    .estimate(v, kpi)
                    .map_or("-".into(), |(m, h)| format!("{} ± {}", num(m), num(h)));
                let (d, vr) = match self.diff(v, kpi) {
                    Some((m, h, vr)) => {
                        let sig = if (m.abs() > h) && h.is_finite() { " *" } else { "" };
                        (
                            format!("{:+} ± {}{sig}", FmtNum(m), num(h)),
                            if vr.is_finite() {
                                format!("{vr:.1}×")
                            } else {
                                "-".into()
                            },
                        )
                    }
                    None => ("".into(), "".into()),
                };
                if markdown {
                    let _ = writeln!(s, "| {} | {} | {est} | {d} | {vr} |", var.name, var.replications);
                } else {
                    let _ = writeln!(
                        s,
                        "  {:<26} {:>5} {:>24} {:>26} {:>8}",
                        truncate(&var.name, 26),
                        var.replications,
                        est,
                        d,
                        vr
                    );
                }
            }
        }
        let _ = writeln!(
            s,
            "\n{}* the 95% interval of the difference excludes 0",
            if markdown { "\\" } else { "  " }
        );
        if let Some(sel) = &self.selection {
            let _ = writeln!(
                s,
                "\n{}best for {} ({}): {} — P(correct selection) >= {} within an indifference zone of {} ({} first-stage, {} required, {} run){}",
                if markdown {
                    "**Ranking and selection:** "
                } else {
                    "ranking and selection: "
                },
                sel.kpi,
                if sel.maximize {
                    "larger is better"
                } else {
                    "smaller is better"
                },
                sel.best,
                sel.pcs,
                sel.indifference,
                sel.first_stage,
                sel.required,
                sel.used,
                if sel.guaranteed {
                    ""
                } else {
                    "; capped, so the PCS guarantee does not hold"
                }
            );
        }
        s
    }

    /// Writes report.md, report.csv, report.json and the SVG charts into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let mut written = Vec::new();
        let mut put = |name: &str, text: String| -> std::io::Result<()> {
            let p = dir.join(name);
            write_atomic(&p, text.as_bytes())?;
            written.push(p);
            Ok(())
        };
        let mut md = format!(
            "# {}\n\nPlant: `{}`; seed {}; common random numbers: {}.\n",
            self.study,
            self.plant,
            self.seed,
            if self.crn { "yes" } else { "no" }
        );
        md.push_str(&self.table(true));
        md.push_str("\n## Charts\n\n");
        for (i, kpi) in self.table_kpis.iter().enumerate() {
            md.push_str(&format!("![{kpi}](kpi_{i}.svg)\n\n"));
        }
        md.push_str("![throughput over time](throughput.svg)\n\n![WIP over time](wip.svg)\n");
        put("report.md", md)?;
        let mut csv =
            String::from("variant,replications,kpi,mean,ci95,diff_vs_baseline,diff_ci95,variance_reduction\n");
        for (v, var) in self.variants.iter().enumerate() {
            for k in &var.kpis {
                let (d, dh, vr) =
                    self.diff(v, &k.kpi)
                        .map_or((String::new(), String::new(), String::new()), |(a, b, c)| {
                            (
                                a.to_string(),
                                b.to_string(),
                                if c.is_finite() { c.to_string() } else { String::new() },
                            )
                        });
                let _ = writeln!(
                    csv,
                    "{},{},{},{},{},{d},{dh},{vr}",
                    csv_field(&var.name),
                    var.replications,
                    k.kpi,
                    k.mean,
                    k.ci95
                );
            }
        }
        put("report.csv", csv)?;
        put(
            "report.json",
            serde_json::to_string_pretty(self).map_err(std::io::Error::other)? + "\n",
        )?;
        for (i, kpi) in self.table_kpis.iter().enumerate() {
            let p = dir.join(format!("kpi_{i}.svg"));
            self.kpi_chart(kpi, &p)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            written.push(p);
        }
        for (name, pick) in [("throughput.svg", 0usize), ("wip.svg", 1)] {
            let p = dir.join(name);
            self.series_chart(pick, &p)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            written.push(p);
        }
        Ok(written)
    }

    /// Mean of one KPI per variant with 95% CI whiskers.
    fn kpi_chart(&self, kpi: &str, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
        let pts: Vec<(usize, f64, f64)> = (0..self.variants.len())
            .filter_map(|v| self.estimate(v, kpi).map(|(m, h)| (v, m, h)))
            .collect();
        let lo = pts.iter().map(|p| p.1 - p.2).fold(f64::INFINITY, f64::min);
        let hi = pts.iter().map(|p| p.1 + p.2).fold(f64::NEG_INFINITY, f64::max);
        let pad = ((hi - lo) * 0.15).max(hi.abs() * 0.01).max(1e-9);
        let n = self.variants.len();
        // Variants on the vertical axis: long variant names stay readable.
        let root = SVGBackend::new(path, (820, 120 + 48 * n as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(kpi, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(220)
            .build_cartesian_2d((lo - pad)..(hi + pad), -0.5f64..(n as f64 - 0.5))?;
        let names: Vec<String> = self.variants.iter().map(|v| v.name.clone()).collect();
        chart
            .configure_mesh()
            .y_labels(n)
            .y_label_formatter(&|y| {
                let i = y.round();
                if (y - i).abs() < 1e-6 && i >= 0.0 {
                    names.get(n - 1 - i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .disable_y_mesh()
            .x_desc("mean ± 95% CI")
            .draw()?;
        let row = |v: usize| (n - 1 - v) as f64;
        chart.draw_series(
            pts.iter()
                .map(|&(v, m, h)| ErrorBar::new_horizontal(row(v), m - h, m, m + h, BLUE.filled(), 12)),
        )?;
        chart.draw_series(pts.iter().map(|&(v, m, _)| Circle::new((m, row(v)), 5, BLUE.filled())))?;
        root.present()?;
        Ok(())
    }

    /// Throughput (pick 0) or WIP (pick 1) over time, one line per variant.
    fn series_chart(&self, pick: usize, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
        let get = |s: &VariantSeries| -> Vec<(f64, f64)> {
            let ys = if pick == 0 { &s.throughput_per_h } else { &s.wip };
            s.t_h.iter().copied().zip(ys.iter().copied()).collect()
        };
        let all: Vec<(f64, f64)> = self.series.iter().flat_map(get).collect();
        let xmax = all.iter().map(|p| p.0).fold(1e-9, f64::max);
        let ymax = all.iter().map(|p| p.1).fold(1e-9, f64::max) * 1.1;
        let title = if pick == 0 {
            "throughput over time [parts/h]"
        } else {
            "WIP over time [parts]"
        };
        let root = SVGBackend::new(path, (760, 420)).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..xmax, 0f64..ymax)?;
        chart
            .configure_mesh()
            .x_desc("simulated time [h] (mean over replications)")
            .draw()?;
        for (i, s) in self.series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(get(s), color.stroke_width(2)))?
                .label(s.name.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()?;
        root.present()?;
        Ok(())
    }
}

/// Writes a file through a temporary name, so a failure never leaves it half-written.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".partial");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(['…']).collect()
    }
}

/// A number with 4 significant digits, no exponent for everyday magnitudes.
fn num(x: f64) -> String {
    FmtNum(x).to_string()
}

struct FmtNum(f64);

impl std::fmt::Display for FmtNum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let x = self.0;
        if !x.is_finite() {
            return write!(f, "-");
        }
        let a = x.abs();
        let digits = if a >= 1000.0 {
            1
        } else if a >= 100.0 {
            2
        } else if a >= 1.0 {
            3
        } else {
            4
        };
        if f.sign_plus() && x >= 0.0 {
            write!(f, "+")?;
        }
        write!(f, "{x:.digits$}")
    }
}
