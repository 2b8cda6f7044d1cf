//! The list of active formatting elements: its reconstruction and the
//! adoption agency algorithm, as the HTML standard gives them.
//!
//! Why they matter for extraction: old CMS output misnests `<font>`, `<b>`
//! and `<a>` across paragraphs and table cells (`<p><b>x<p>y</b>`). Without
//! these rules a misnested end tag closes whatever it crosses and a link or
//! a paragraph ends where a browser would not; with them the text lands in
//! the same elements as in a browser.
//!
//! Bounds (see [`super::tree`] for the depth cap): the list keeps at most
//! [`MAX_ACTIVE`] elements after its last marker (the standard's Noah's Ark
//! clause already keeps at most three equal ones), and reconstruction and
//! the adoption agency clone at most `Builder::clone_budget` elements plus
//! attributes over a whole page (one per 16 bytes of input, plus 10,000),
//! so a page that misnests on purpose cannot make the arena grow faster
//! than its size (browsers have no such bound and go quadratic there).

use super::super::dom::{Data, Name};
use super::tree::{Builder, Fmt};

/// Most formatting elements kept active after the last marker.
pub(crate) const MAX_ACTIVE: usize = 64;

fn sorted_attrs(a: &[(Name, String)]) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = a.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    v.sort_unstable();
    v
}

impl Builder<'_> {
    /// Position in the list of the last element named `tag` after the last
    /// marker.
    pub(super) fn afe_find(&self, tag: &str) -> Option<usize> {
        for (pos, f) in self.afe.iter().enumerate().rev() {
            match *f {
                Fmt::Marker => return None,
                Fmt::Elem(i) if self.dom.tag(i) == tag => return Some(pos),
                Fmt::Elem(_) => {}
            }
        }
        None
    }

    fn afe_pos(&self, idx: usize) -> Option<usize> {
        self.afe.iter().rposition(|&f| f == Fmt::Elem(idx))
    }

    /// Whether two elements have the same tag and attributes (in any order).
    fn same_token(&self, a: usize, b: usize) -> bool {
        match (&self.dom.nodes[a].data, &self.dom.nodes[b].data) {
            (Data::Element(x), Data::Element(y)) => {
                if x.tag != y.tag || x.attrs.len() != y.attrs.len() {
                    return false;
                }
                if x.attrs.len() <= 8 {
                    return x.attrs.iter().all(|kv| y.attrs.contains(kv));
                }
                // Sorted, so a tag with thousands of attributes is not
                // quadratic.
                sorted_attrs(&x.attrs) == sorted_attrs(&y.attrs)
            }
            _ => false,
        }
    }

    /// Push an element just inserted onto the list (Noah's Ark: a fourth
    /// equal element after the last marker drops the earliest).
    pub(super) fn afe_push(&mut self, idx: usize) {
        let start = self
            .afe
            .iter()
            .rposition(|&f| f == Fmt::Marker)
            .map_or(0, |p| p + 1);
        let mut same = 0;
        let mut earliest = None;
        for pos in (start..self.afe.len()).rev() {
            if let Fmt::Elem(e) = self.afe[pos]
                && self.same_token(e, idx)
            {
                same += 1;
                earliest = Some(pos);
            }
        }
        if same >= 3
            && let Some(pos) = earliest
        {
            self.afe.remove(pos);
        } else if self.afe.len() - start >= MAX_ACTIVE {
            self.afe.remove(start);
            self.capped = true;
        }
        self.afe.push(Fmt::Elem(idx));
    }

    pub(super) fn clear_afe_to_marker(&mut self) {
        while let Some(f) = self.afe.pop() {
            if f == Fmt::Marker {
                break;
            }
        }
    }

    /// Reopen the formatting elements that were closed by something other
    /// than their own end tag, before text or an inline element.
    pub(super) fn reconstruct(&mut self) {
        let n = self.afe.len();
        let open = |b: &Self, f: Fmt| match f {
            Fmt::Marker => true,
            Fmt::Elem(i) => b.on_stack(i),
        };
        if n == 0 || open(self, self.afe[n - 1]) {
            return;
        }
        let mut k = n - 1;
        while k > 0 && !open(self, self.afe[k - 1]) {
            k -= 1;
        }
        for pos in k..n {
            let Fmt::Elem(old) = self.afe[pos] else {
                continue;
            };
            let cost = self.clone_cost(old);
            if self.clone_budget < cost {
                self.capped = true;
                return;
            }
            let Some(new) = self.insert_clone(old) else {
                self.capped = true;
                return;
            };
            self.clone_budget -= cost;
            self.afe[pos] = Fmt::Elem(new);
        }
    }

    /// What cloning `idx` takes from the page's clone budget: the element
    /// and each of its attributes.
    fn clone_cost(&self, idx: usize) -> usize {
        match &self.dom.nodes[idx].data {
            Data::Element(e) => 1 + e.attrs.len(),
            _ => 1,
        }
    }

    /// The adoption agency algorithm for the end tag `subject`; true when
    /// the caller should act as for "any other end tag".
    pub(super) fn adoption(&mut self, subject: &str) -> bool {
        if let Some(top) = self.stack.last()
            && !top.foreign
            && top.tag == subject
            && self.afe_pos(top.idx).is_none()
        {
            self.pop();
            return false;
        }
        for _ in 0..8 {
            let Some(fa) = self.afe_find(subject) else {
                return true;
            };
            let Fmt::Elem(fe) = self.afe[fa] else {
                return true;
            };
            let Some(fs) = self.stack_pos(fe) else {
                self.afe.remove(fa);
                return false;
            };
            if !self.pos_in_scope(fs) {
                return false;
            }
            let Some(mut fb_pos) = (fs + 1..self.stack.len()).find(|&p| {
                let o = &self.stack[p];
                o.special()
            }) else {
                self.pop_to(fs);
                if let Some(p) = self.afe_pos(fe) {
                    self.afe.remove(p);
                }
                return false;
            };
            // Out of clone budget (a page misnesting on purpose): close the
            // element as if no block followed it.
            let cost: usize = self.stack[fs..=fb_pos]
                .iter()
                .map(|o| self.clone_cost(o.idx))
                .sum();
            if fs == 0 || self.clone_budget < cost {
                self.capped |= self.clone_budget < cost;
                self.pop_to(fs);
                if let Some(p) = self.afe_pos(fe) {
                    self.afe.remove(p);
                }
                return false;
            }
            self.clone_budget -= cost;
            let fb = self.stack[fb_pos].idx;
            let ca_pos = fs - 1;
            let mut bookmark = fa;
            let mut node_pos = fb_pos;
            let mut last = fb;
            let mut inner = 0;
            loop {
                inner += 1;
                node_pos -= 1;
                let node = self.stack[node_pos].idx;
                if node == fe {
                    break;
                }
                let mut at = self.afe_pos(node);
                if inner > 3
                    && let Some(p) = at
                {
                    self.afe.remove(p);
                    if p < bookmark {
                        bookmark -= 1;
                    }
                    at = None;
                }
                let Some(at) = at else {
                    self.remove_from_stack(node_pos);
                    fb_pos -= 1;
                    continue;
                };
                let new = self.clone_element(node);
                self.afe[at] = Fmt::Elem(new);
                self.replace_on_stack(node_pos, new);
                if last == fb {
                    bookmark = at + 1;
                }
                self.detach(last);
                self.attach(last, new, None);
                last = new;
            }
            self.detach(last);
            let (parent, before) = self.place_for(ca_pos);
            self.attach(last, parent, before);
            let new = self.clone_element(fe);
            self.move_children(fb, new);
            self.attach(new, fb, None);
            self.afe
                .insert(bookmark.min(self.afe.len()), Fmt::Elem(new));
            if let Some(p) = self.afe.iter().rposition(|&f| f == Fmt::Elem(fe)) {
                self.afe.remove(p);
            }
            self.remove_from_stack(fs);
            // The furthest block moved down one; the new element goes
            // right after it.
            self.insert_on_stack(fb_pos, new);
        }
        false
    }
}
