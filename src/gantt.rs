//! Output formats of a plant schedule: CSV and an SVG Gantt chart (plotters).

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;
use twinworks_aps::plant_plan::PlantSchedule;
use twinworks_twins::trace::csv_field as q;

/// One row per operation and setup.
pub fn schedule_csv(s: &PlantSchedule) -> String {
    let mut out = String::from("kind,station,server,order,product,job,step,start_s,end_s,from_family,to_family\n");
    for o in &s.operations {
        let _ = writeln!(
            out,
            "operation,{},{},{},{},{},{},{},{},,",
            q(&o.station),
            o.server,
            q(&o.order),
            q(&o.product),
            o.job,
            o.step,
            o.start,
            o.end
        );
    }
    for u in &s.setups {
        let _ = writeln!(
            out,
            "setup,{},{},,,,,{},{},{},{}",
            q(&u.station),
            u.server,
            u.start,
            u.end,
            q(u.from_family.as_deref().unwrap_or("")),
            q(&u.to_family)
        );
    }
    out
}

/// A Gantt chart: one row per station server, one bar per operation coloured by order, setups
/// in grey, each order's due date marked by a red tick and its id on the row of its last
/// operation.
pub fn gantt_svg(s: &PlantSchedule, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let rows = s.machines.len().max(1);
    let end = s
        .operations
        .iter()
        .map(|o| o.end)
        .chain(s.jobs.iter().filter_map(|j| j.due))
        .max()
        .unwrap_or(1)
        .max(1) as f64
        / 3600.0;
    let height = (140 + 34 * rows) as u32;
    let root = SVGBackend::new(path, (1200, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            format!("{} — {} = {}", s.plant, s.objective, s.value),
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(110)
        .build_cartesian_2d(0f64..end * 1.02, 0f64..rows as f64)?;
    let names: Vec<String> = s
        .machines
        .iter()
        .map(|m| format!("{}#{}", m.station, m.server))
        .collect();
    chart
        .configure_mesh()
        .y_labels(rows * 2 + 1)
        .y_label_formatter(&|y| {
            // Rows are drawn top-down: machine 0 at the top; label the middle of each row.
            let r = (rows as f64 - y - 0.5).round();
            if (rows as f64 - y - 0.5 - r).abs() < 1e-6 && r >= 0.0 {
                names.get(r as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .disable_y_mesh()
        .x_desc(if s.calendar_start.is_some() {
            "hours from the plant's calendar start"
        } else {
            "hours"
        })
        .draw()?;
    let row_y = |machine: usize| rows as f64 - machine as f64 - 1.0;
    let orders: Vec<&str> = {
        let mut v: Vec<&str> = s.jobs.iter().map(|j| j.order.as_str()).collect();
        v.dedup();
        v
    };
    let color = |order: &str| Palette99::pick(orders.iter().position(|o| *o == order).unwrap_or(0)).to_rgba();
    chart.draw_series(s.setups.iter().map(|u| {
        let y = row_y(u.machine);
        Rectangle::new(
            [(u.start as f64 / 3600.0, y + 0.2), (u.end as f64 / 3600.0, y + 0.8)],
            RGBColor(170, 170, 170).filled(),
        )
    }))?;
    for order in &orders {
        let c = color(order);
        chart
            .draw_series(s.operations.iter().filter(|o| o.order == *order).map(|o| {
                let y = row_y(o.machine);
                Rectangle::new(
                    [(o.start as f64 / 3600.0, y + 0.1), (o.end as f64 / 3600.0, y + 0.9)],
                    c.filled(),
                )
            }))?
            .label(order.to_string())
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled()));
    }
    // Due dates: a red tick on the row of the order's last operation, with the order id.
    for (j, job) in s.jobs.iter().enumerate() {
        let (Some(due), Some(last)) = (
            job.due,
            s.operations.iter().filter(|o| o.job == j).max_by_key(|o| o.end),
        ) else {
            continue;
        };
        let y = row_y(last.machine);
        let x = due as f64 / 3600.0;
        let late = last.end > due;
        let red = if late { RED } else { RGBColor(200, 60, 60) };
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, y), (x, y + 1.0)],
            red.stroke_width(2),
        )))?;
        chart.draw_series(std::iter::once(Text::new(
            format!("{} due{}", job.order, if late { " (late)" } else { "" }),
            (x, y + 1.0),
            ("sans-serif", 11).into_font().color(&red),
        )))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
