//! Where the boxes go in vnet's own SVG: layers by distance from the lab's centre (a router
//! if it has one, else a switch or bridge), each layer ordered under its neighbours above and
//! pulled beneath them. Deterministic: the same lab is the same picture.

use std::collections::VecDeque;

use super::{Picture, Shape};

/// A box's centre and size.
#[derive(Debug, Clone, Copy)]
pub(super) struct Placed {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// Space between boxes of a layer, and between layers (room for the end labels).
const GAP_X: f64 = 36.0;
const GAP_Y: f64 = 130.0;
/// Beyond this many boxes, finding the centre (a search from every router) costs more than
/// the picture gains: the best-connected router is taken.
const CENTRE_SEARCH_MAX: usize = 400;

fn preference(s: Shape) -> u8 {
    match s {
        Shape::Router => 0,
        Shape::Switch | Shape::Bridge | Shape::Hub => 1,
        Shape::Machine => 2,
        Shape::Host | Shape::Group => 3,
    }
}

/// Distances from `root` within its component (`usize::MAX`: not reached).
fn bfs(adj: &[Vec<usize>], root: usize) -> Vec<usize> {
    let mut dist = vec![usize::MAX; adj.len()];
    dist[root] = 0;
    let mut q = VecDeque::from([root]);
    while let Some(n) = q.pop_front() {
        for &m in &adj[n] {
            if dist[m] == usize::MAX {
                dist[m] = dist[n] + 1;
                q.push_back(m);
            }
        }
    }
    dist
}

/// Positions for every box, and the width and height they take (from 0,0).
pub(super) fn layout(p: &Picture, size: &[(f64, f64)]) -> (Vec<Placed>, f64, f64) {
    let n = p.boxes.len();
    let mut adj = vec![Vec::new(); n];
    for l in &p.lines {
        if l.a.node != l.b.node {
            adj[l.a.node].push(l.b.node);
            adj[l.b.node].push(l.a.node);
        }
    }
    for a in &mut adj {
        a.sort_unstable();
        a.dedup();
    }
    // Each component gets its own layers, side by side, in the order of their first box.
    let mut layer = vec![usize::MAX; n];
    let mut component = vec![usize::MAX; n];
    let mut components = 0;
    for start in 0..n {
        if component[start] != usize::MAX {
            continue;
        }
        let members: Vec<usize> = bfs(&adj, start)
            .iter()
            .enumerate()
            .filter(|(_, d)| **d != usize::MAX)
            .map(|(i, _)| i)
            .collect();
        let best = members
            .iter()
            .map(|&i| preference(p.boxes[i].shape))
            .min()
            .unwrap_or(3);
        let candidates: Vec<usize> = members
            .iter()
            .copied()
            .filter(|&i| preference(p.boxes[i].shape) == best)
            .collect();
        let root = if members.len() <= CENTRE_SEARCH_MAX {
            // The graph's centre among them: the fewest layers, then the most links.
            *candidates
                .iter()
                .min_by_key(|&&c| {
                    let depth = bfs(&adj, c)
                        .into_iter()
                        .filter(|d| *d != usize::MAX)
                        .max()
                        .unwrap_or(0);
                    (depth, usize::MAX - adj[c].len(), c)
                })
                .unwrap_or(&start)
        } else {
            *candidates
                .iter()
                .max_by_key(|&&c| (adj[c].len(), usize::MAX - c))
                .unwrap_or(&start)
        };
        let dist = bfs(&adj, root);
        for &m in &members {
            layer[m] = dist[m];
            component[m] = components;
        }
        components += 1;
    }
    let depth = layer.iter().copied().max().unwrap_or(0) + 1;
    let mut placed: Vec<Placed> = (0..n)
        .map(|i| Placed {
            x: 0.0,
            y: 0.0,
            w: size[i].0,
            h: size[i].1,
        })
        .collect();
    let mut left = 0.0f64;
    for c in 0..components {
        let mut rows: Vec<Vec<usize>> = vec![Vec::new(); depth];
        for i in 0..n {
            if component[i] == c {
                rows[layer[i]].push(i);
            }
        }
        // Top layer packed; each next one ordered and placed under its neighbours above.
        for (d, slot) in rows.iter_mut().enumerate() {
            let row = std::mem::take(slot);
            if row.is_empty() {
                continue;
            }
            let desired: Vec<(usize, f64)> = row
                .iter()
                .map(|&i| {
                    let above: Vec<f64> = adj[i]
                        .iter()
                        .filter(|&&m| d > 0 && layer[m] == d - 1)
                        .map(|&m| placed[m].x)
                        .collect();
                    let want = if above.is_empty() {
                        f64::NAN
                    } else {
                        above.iter().sum::<f64>() / above.len() as f64
                    };
                    (i, want)
                })
                .collect();
            let mut order = desired.clone();
            order.sort_by(|a, b| {
                let (x, y) = (a.1, b.1);
                match (x.is_nan(), y.is_nan()) {
                    (false, false) => x.total_cmp(&y).then(a.0.cmp(&b.0)),
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    (true, true) => a.0.cmp(&b.0),
                }
            });
            let total: f64 = order.iter().map(|(i, _)| placed[*i].w).sum::<f64>()
                + GAP_X * (order.len() - 1) as f64;
            // Packed centred on 0 where nothing above pulls; pushed right where boxes collide.
            let mut x_prev: Option<(f64, f64)> = None;
            let mut packed = -total / 2.0;
            let mut xs = Vec::new();
            for (i, want) in &order {
                let w = placed[*i].w;
                let base = packed + w / 2.0;
                packed += w + GAP_X;
                let mut x = if want.is_nan() { base } else { *want };
                if let Some((px, pw)) = x_prev {
                    x = x.max(px + pw / 2.0 + GAP_X + w / 2.0);
                }
                x_prev = Some((x, w));
                xs.push(x);
            }
            // The pushes drift right: shift the layer back so that on average it sits where
            // it was wanted.
            let pulled: Vec<f64> = order
                .iter()
                .zip(&xs)
                .filter(|((_, want), _)| !want.is_nan())
                .map(|((_, want), x)| x - want)
                .collect();
            let shift = if pulled.is_empty() {
                0.0
            } else {
                pulled.iter().sum::<f64>() / pulled.len() as f64
            };
            for ((i, _), x) in order.iter().zip(xs) {
                placed[*i].x = x - shift;
            }
            *slot = row;
        }
        // The component's span, moved to start where the previous one ended.
        let members: Vec<usize> = (0..n).filter(|&i| component[i] == c).collect();
        let min = members
            .iter()
            .map(|&i| placed[i].x - placed[i].w / 2.0)
            .fold(f64::INFINITY, f64::min);
        let max = members
            .iter()
            .map(|&i| placed[i].x + placed[i].w / 2.0)
            .fold(f64::NEG_INFINITY, f64::max);
        for &i in &members {
            placed[i].x += left - min;
        }
        left += (max - min) + GAP_X * 2.0;
    }
    // Layers top to bottom, each as tall as its tallest box.
    let mut heights = vec![0.0f64; depth];
    for i in 0..n {
        heights[layer[i]] = heights[layer[i]].max(placed[i].h);
    }
    let mut tops = vec![0.0; depth];
    let mut y = 0.0;
    for d in 0..depth {
        tops[d] = y;
        y += heights[d] + GAP_Y;
    }
    for i in 0..n {
        placed[i].y = tops[layer[i]] + heights[layer[i]] / 2.0;
    }
    let width = (left - GAP_X * 2.0).max(0.0);
    let height = (y - GAP_Y).max(0.0);
    (placed, width, height)
}
