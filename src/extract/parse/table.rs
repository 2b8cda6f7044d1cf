//! The table insertion modes (in table, table body, row, cell, caption,
//! column group): which table tokens open, close or are reprocessed, and
//! which go to the in-body rules with foster parenting, so that what stands
//! in a table outside its cells ends up before the table, as in a browser.

use super::super::dom::Name;
use super::tags::Scope;
use super::tree::{Builder, Fmt, Mode, is_table_part};

impl Builder<'_> {
    /// One round of a start tag in the current mode; true to reprocess.
    pub(super) fn start_in_mode(
        &mut self,
        tag: &str,
        attrs: &mut Vec<(Name, String)>,
        sc: bool,
    ) -> bool {
        let take = std::mem::take;
        match self.mode {
            Mode::Body => self.start_in_body(tag, take(attrs), sc),
            Mode::Cell | Mode::Caption if is_table_part(tag) => {
                if self.mode == Mode::Cell {
                    if self
                        .in_scope(|t| t == "td" || t == "th", Scope::Table)
                        .is_none()
                    {
                        return false;
                    }
                    self.close_cell();
                } else {
                    if self.in_scope(|t| t == "caption", Scope::Table).is_none() {
                        return false;
                    }
                    self.close_caption();
                }
                return true;
            }
            Mode::Cell | Mode::Caption => self.start_in_body(tag, take(attrs), sc),
            Mode::ColumnGroup => {
                if tag == "col" {
                    self.insert(tag, take(attrs), true, false);
                    return false;
                }
                if self.top_tag() != "colgroup" {
                    return false;
                }
                self.pop();
                self.mode = Mode::Table;
                return true;
            }
            Mode::Row => match tag {
                "td" | "th" => {
                    self.clear_back_to(&["tr"]);
                    if self.insert(tag, take(attrs), false, false).1 {
                        self.mode = Mode::Cell;
                        self.afe.push(Fmt::Marker);
                    }
                }
                "caption" | "col" | "colgroup" | "tbody" | "tfoot" | "thead" | "tr" => {
                    if self.in_scope(|t| t == "tr", Scope::Table).is_none() {
                        return false;
                    }
                    self.clear_back_to(&["tr"]);
                    self.pop();
                    self.mode = Mode::TableBody;
                    return true;
                }
                _ => return self.start_in_table(tag, attrs, sc),
            },
            Mode::TableBody => match tag {
                "tr" => {
                    self.clear_back_to(&["tbody", "thead", "tfoot"]);
                    if self.insert(tag, take(attrs), false, false).1 {
                        self.mode = Mode::Row;
                    }
                }
                "td" | "th" => {
                    self.clear_back_to(&["tbody", "thead", "tfoot"]);
                    if self.insert("tr", Vec::new(), false, false).1 {
                        self.mode = Mode::Row;
                        return true;
                    }
                }
                "caption" | "col" | "colgroup" | "tbody" | "tfoot" | "thead" => {
                    if self
                        .in_scope(|t| matches!(t, "tbody" | "thead" | "tfoot"), Scope::Table)
                        .is_none()
                    {
                        return false;
                    }
                    self.clear_back_to(&["tbody", "thead", "tfoot"]);
                    self.pop();
                    self.mode = Mode::Table;
                    return true;
                }
                _ => return self.start_in_table(tag, attrs, sc),
            },
            Mode::Table => return self.start_in_table(tag, attrs, sc),
        }
        false
    }

    /// The "in table" rules for a start tag; true to reprocess.
    pub(super) fn start_in_table(
        &mut self,
        tag: &str,
        attrs: &mut Vec<(Name, String)>,
        sc: bool,
    ) -> bool {
        let take = std::mem::take;
        match tag {
            "caption" => {
                self.clear_back_to(&["table"]);
                if self.insert(tag, take(attrs), false, false).1 {
                    self.afe.push(Fmt::Marker);
                    self.mode = Mode::Caption;
                }
            }
            "colgroup" => {
                self.clear_back_to(&["table"]);
                if self.insert(tag, take(attrs), false, false).1 {
                    self.mode = Mode::ColumnGroup;
                }
            }
            "tbody" | "tfoot" | "thead" | "col" | "td" | "th" | "tr" => {
                self.clear_back_to(&["table"]);
                let (wrapper, mode) = match tag {
                    "col" => ("colgroup", Mode::ColumnGroup),
                    "td" | "th" | "tr" => ("tbody", Mode::TableBody),
                    _ => (tag, Mode::TableBody),
                };
                let again = wrapper != tag;
                let attrs = if again { Vec::new() } else { take(attrs) };
                if self.insert(wrapper, attrs, false, false).1 {
                    self.mode = mode;
                    return again;
                }
            }
            "table" => {
                let Some(pos) = self.in_scope(|t| t == "table", Scope::Table) else {
                    return false;
                };
                self.pop_to(pos);
                self.reset_mode();
                return true;
            }
            "style" | "script" | "template" => {
                self.insert(tag, take(attrs), false, false);
            }
            "input"
                if attrs
                    .iter()
                    .any(|(k, v)| k == "type" && v.eq_ignore_ascii_case("hidden")) =>
            {
                self.insert(tag, take(attrs), true, false);
            }
            "form" => {
                self.insert(tag, take(attrs), true, false);
            }
            _ => {
                self.foster = true;
                self.start_in_body(tag, take(attrs), sc);
                self.foster = false;
            }
        }
        false
    }

    pub(super) fn close_cell(&mut self) {
        if let Some(pos) = self.in_scope(|t| t == "td" || t == "th", Scope::Table) {
            self.pop_to(pos);
            self.clear_afe_to_marker();
        }
        self.mode = Mode::Row;
    }

    pub(super) fn close_caption(&mut self) {
        if let Some(pos) = self.in_scope(|t| t == "caption", Scope::Table) {
            self.pop_to(pos);
            self.clear_afe_to_marker();
        }
        self.mode = Mode::Table;
    }

    /// One round of an end tag in the current mode; true to reprocess.
    pub(super) fn end_in_mode(&mut self, tag: &str) -> bool {
        let in_table_scope = |b: &Self, t: &str| b.in_scope(|x| x == t, Scope::Table).is_some();
        match self.mode {
            Mode::Body => self.end_in_body(tag),
            Mode::Cell => match tag {
                "td" | "th" => {
                    if let Some(pos) = self.in_scope(|x| x == tag, Scope::Table) {
                        self.pop_to(pos);
                        self.clear_afe_to_marker();
                        self.mode = Mode::Row;
                    }
                }
                "caption" | "col" | "colgroup" => {}
                "table" | "tbody" | "tfoot" | "thead" | "tr" => {
                    if in_table_scope(self, tag) {
                        self.close_cell();
                        return true;
                    }
                }
                _ => self.end_in_body(tag),
            },
            Mode::Caption => match tag {
                "caption" | "table" => {
                    if in_table_scope(self, "caption") {
                        self.close_caption();
                        return tag == "table";
                    }
                }
                "col" | "colgroup" | "tbody" | "td" | "tfoot" | "th" | "thead" | "tr" => {}
                _ => self.end_in_body(tag),
            },
            Mode::ColumnGroup => {
                if tag == "col" || self.top_tag() != "colgroup" {
                    return false;
                }
                self.pop();
                self.mode = Mode::Table;
                return tag != "colgroup";
            }
            Mode::Row => match tag {
                "tr" | "table" | "tbody" | "tfoot" | "thead" => {
                    if (matches!(tag, "tr" | "table") || in_table_scope(self, tag))
                        && in_table_scope(self, "tr")
                    {
                        self.clear_back_to(&["tr"]);
                        self.pop();
                        self.mode = Mode::TableBody;
                        return tag != "tr";
                    }
                }
                "caption" | "col" | "colgroup" | "td" | "th" => {}
                _ => return self.end_in_table(tag),
            },
            Mode::TableBody => match tag {
                "tbody" | "tfoot" | "thead" | "table" => {
                    let found = if tag == "table" {
                        self.in_scope(|t| matches!(t, "tbody" | "thead" | "tfoot"), Scope::Table)
                            .is_some()
                    } else {
                        in_table_scope(self, tag)
                    };
                    if found {
                        self.clear_back_to(&["tbody", "thead", "tfoot"]);
                        self.pop();
                        self.mode = Mode::Table;
                        return tag == "table";
                    }
                }
                "caption" | "col" | "colgroup" | "td" | "th" | "tr" => {}
                _ => return self.end_in_table(tag),
            },
            Mode::Table => return self.end_in_table(tag),
        }
        false
    }

    pub(super) fn end_in_table(&mut self, tag: &str) -> bool {
        match tag {
            "table" => {
                if let Some(pos) = self.in_scope(|t| t == "table", Scope::Table) {
                    self.pop_to(pos);
                    self.reset_mode();
                }
            }
            "caption" | "col" | "colgroup" | "tbody" | "td" | "tfoot" | "th" | "thead" | "tr" => {}
            _ => {
                self.foster = true;
                self.end_in_body(tag);
                self.foster = false;
            }
        }
        false
    }
}
