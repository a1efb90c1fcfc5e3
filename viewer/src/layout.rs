//! Where tiles go: the `x, y` positions of the plant file, else a layout that follows the
//! routings (a station's column is its longest distance from the start of any routing, so
//! material flows left to right; stations of one column are stacked in plant-file order).
//! Declared buffers sit half way to the previous column, before the first station that takes
//! from them.

use twinworks_twins::PlantModel;

/// Positions in layout units (one unit is about one tile plus a gap).
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// One per station.
    pub stations: Vec<[f32; 2]>,
    /// One per buffer; `None` for buffers not drawn (the implicit input queues of stations,
    /// shown as "queue" on their station's tile).
    pub buffers: Vec<Option<[f32; 2]>>,
    /// Links drawn between tiles: (from buffer, to station) and (from station, to buffer).
    pub links: Vec<Link>,
    /// Largest x and y used.
    pub extent: [f32; 2],
}

/// A line between a tile and the next one on some routing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// A buffer feeds a station.
    BufferToStation(usize, usize),
    /// A station feeds another (through that station's input buffer).
    StationToStation(usize, usize),
}

impl Layout {
    /// The layout of `plant`: file positions when every station has one, else automatic.
    pub fn of(plant: &PlantModel) -> Layout {
        let n = plant.stations.len();
        let all_placed = n > 0 && plant.stations.iter().all(|s| s.position.is_some());
        let stations: Vec<[f32; 2]> = if all_placed {
            plant
                .stations
                .iter()
                .map(|s| {
                    let (x, y) = s.position.expect("checked");
                    [x as f32, y as f32]
                })
                .collect()
        } else {
            auto_positions(plant)
        };
        let mut buffers = vec![None; plant.buffers.len()];
        let mut links = Vec::new();
        for (b, buf) in plant.buffers.iter().enumerate() {
            if !buf.declared {
                continue;
            }
            let first = plant.stations.iter().position(|s| s.input == b);
            buffers[b] = match (all_placed, buf.position, first) {
                (true, Some((x, y)), _) => Some([x as f32, y as f32]),
                (_, _, Some(s)) => Some([stations[s][0] - 1.0, stations[s][1]]),
                _ => None,
            };
        }
        for (s, st) in plant.stations.iter().enumerate() {
            if buffers[st.input].is_some() {
                links.push(Link::BufferToStation(st.input, s));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for p in &plant.products {
            for w in p.routing.windows(2) {
                for &a in &w[0].stations {
                    for &b in &w[1].stations {
                        if seen.insert((a, b)) {
                            links.push(Link::StationToStation(a, b));
                        }
                    }
                }
            }
        }
        let mut min = [f32::INFINITY; 2];
        let mut max = [f32::NEG_INFINITY; 2];
        for p in stations.iter().chain(buffers.iter().flatten()) {
            min = [min[0].min(p[0]), min[1].min(p[1])];
            max = [max[0].max(p[0]), max[1].max(p[1])];
        }
        if n == 0 {
            min = [0.0; 2];
            max = [0.0; 2];
        }
        // Shift so the top-left tile sits at (0, 0).
        let shift = |p: [f32; 2]| [p[0] - min[0], p[1] - min[1]];
        Layout {
            stations: stations.into_iter().map(shift).collect(),
            buffers: buffers.into_iter().map(|b| b.map(shift)).collect(),
            links,
            extent: [max[0] - min[0], max[1] - min[1]],
        }
    }
}

/// Columns by longest routing distance, rows in plant-file order within a column.
fn auto_positions(plant: &PlantModel) -> Vec<[f32; 2]> {
    let n = plant.stations.len();
    let mut col = vec![0usize; n];
    // Longest path by relaxation; at most n rounds, so a cyclic routing cannot loop forever.
    for _ in 0..n {
        let mut changed = false;
        for p in &plant.products {
            for w in p.routing.windows(2) {
                let from = w[0].stations.iter().map(|&s| col[s]).max().unwrap_or(0);
                for &b in &w[1].stations {
                    if col[b] < from + 1 && from + 1 < n {
                        col[b] = from + 1;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut next_row = vec![0usize; n.max(1)];
    col.iter()
        .map(|&c| {
            let r = next_row[c];
            next_row[c] += 1;
            // Columns two units apart leave room for the buffer between them.
            [2.0 * c as f32, r as f32]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use twinworks_twins::plant_file::parse_plant;

    const LINE: &str = r#"
[plant]
name = "line"
[[source]]
name = "in"
kind = "infinite"
product = "P"
[[station]]
name = "C"
process_time = { dist = "constant", value = "1s" }
[[station]]
name = "A"
process_time = { dist = "constant", value = "1s" }
[[buffer]]
name = "AB"
capacity = 3
[[station]]
name = "B1"
input = "AB"
process_time = { dist = "constant", value = "1s" }
[[station]]
name = "B2"
input = "AB"
process_time = { dist = "constant", value = "1s" }
[[product]]
name = "P"
routing = [{ station = "A" }, { station = ["B1", "B2"] }, { station = "C" }]
"#;

    #[test]
    fn automatic_layout_follows_the_routing() {
        let plant = parse_plant(LINE, std::path::Path::new("line.toml")).unwrap();
        let l = Layout::of(&plant);
        let x = |name: &str| l.stations[plant.stations.iter().position(|s| s.name == name).unwrap()][0];
        assert!(x("A") < x("B1") && x("B1") == x("B2") && x("B2") < x("C"));
        let ab = plant.buffers.iter().position(|b| b.name == "AB").unwrap();
        let pos = l.buffers[ab].expect("declared buffers are drawn");
        assert!(x("A") < pos[0] && pos[0] < x("B1"));
        assert!(l.links.contains(&Link::BufferToStation(ab, 2)));
    }
}
