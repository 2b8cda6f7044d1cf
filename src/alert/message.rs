//! What an alert says: a typed [`Event`] of a unit (what the plain JSON
//! webhook receives, field by field) and its Chinese text for the office's
//! group chat — naming the unit, the account and what to do, times in
//! `[daemon] timezone`.

use crate::model::PauseReason;
use crate::update_clock::SilenceLevel;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// An alert's text is cut at this many bytes (before its time).
const MAX_TEXT_BYTES: usize = 3000;

/// What changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The account's publishing was paused.
    AccountPaused {
        account: String,
        reason: PauseReason,
        since: DateTime<Utc>,
    },
    /// A paused account publishes again.
    AccountResumed { account: String },
    /// The account crossed an update-clock threshold (a warning day or
    /// `max_silence_days`) in this silence stretch.
    Silence {
        account: String,
        level: SilenceLevel,
        days_silent: i64,
        max_silence_days: u32,
        deadline: NaiveDate,
        /// `None`: the account never posted (counted from the first poll).
        last_post: Option<DateTime<Utc>>,
        last_new_article: Option<DateTime<Utc>>,
    },
    /// A source's polls find no entries (a maintenance page, a selector
    /// that no longer matches).
    SourceEmpty {
        source: String,
        since: DateTime<Utc>,
    },
    /// The source finds entries again.
    SourceRecovered { source: String },
    /// One of the unit's sources failed this many polls in a row.
    UnitFailing {
        source: String,
        failed_polls: u32,
        error: Option<String>,
    },
    /// The unit's polls succeed again.
    UnitRecovered,
}

/// One alert: the event and whose it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub unit: String,
    /// The unit's organisation, as the office knows it.
    pub org_name: String,
    /// When the change was seen.
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub event: Event,
}

impl Alert {
    /// A short English name of the event, for ops' logs.
    pub fn what(&self) -> &'static str {
        match &self.event {
            Event::AccountPaused { .. } => "account paused",
            Event::AccountResumed { .. } => "account resumed",
            Event::Silence { .. } => "update clock threshold",
            Event::SourceEmpty { .. } => "source finds no entries",
            Event::SourceRecovered { .. } => "source finds entries again",
            Event::UnitFailing { .. } => "unit failing",
            Event::UnitRecovered => "unit recovered",
        }
    }

    /// The Chinese text the group reads.
    pub fn text(&self, tz: chrono_tz::Tz) -> String {
        let time = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
        let date = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d").to_string();
        let who = format!("{}（{}）", self.org_name, self.unit);
        let body = match &self.event {
            Event::AccountPaused {
                account,
                reason,
                since,
            } => format!(
                "账号暂停发布：{who} 的账号“{account}”自 {} 起暂停发布。\n原因：{}\n处理：按原因处理后执行 systemctl reload autosync（或更新 Cookie）；暂停期间稿件留在队列中，恢复后自动发出。",
                time(*since),
                reason.zh()
            ),
            Event::AccountResumed { account } => {
                format!("账号恢复发布：{who} 的账号“{account}”已恢复发布，队列中的稿件将陆续发出。")
            }
            Event::Silence {
                account,
                level,
                days_silent,
                max_silence_days,
                deadline,
                last_post,
                last_new_article,
            } => {
                let since = match last_post {
                    Some(t) => format!("上次发布：{}", date(*t)),
                    None => "该账号从未发布（自首次抓取起计）".to_string(),
                };
                let site = match last_new_article {
                    Some(t) => format!("网站最近一次有新文章：{}", date(*t)),
                    None => "网站尚无新文章".to_string(),
                };
                let head = match level {
                    SilenceLevel::Overdue => format!(
                        "账号已超期未更新：{who} 的账号“{account}”已 {days_silent} 天未发布，达到 {max_silence_days} 天的检查期限，检查将判为不合格。"
                    ),
                    _ => format!(
                        "账号更新提醒：{who} 的账号“{account}”已 {days_silent} 天未发布，{deadline} 将达到 {max_silence_days} 天的检查期限。"
                    ),
                };
                format!(
                    "{head}\n{since}；{site}。\n处理：请确认网站是否有新内容、采集是否正常，必要时由编辑在工作台手动推送。"
                )
            }
            Event::SourceEmpty { source, since } => format!(
                "来源未找到条目：{who} 的来源 {source} 自 {} 起未找到任何条目。\n处理：请检查该列表页是否改版或在维护、link_selector 是否仍然匹配；在此期间不会发布旧文章。",
                time(*since)
            ),
            Event::SourceRecovered { source } => {
                format!("来源恢复：{who} 的来源 {source} 重新找到了条目。")
            }
            Event::UnitFailing {
                source,
                failed_polls,
                error,
            } => format!(
                "抓取连续失败：{who} 的来源 {source} 已连续 {failed_polls} 次抓取失败{}。\n处理：请检查网站能否访问、地址是否变更；恢复后自动继续。",
                error
                    .as_deref()
                    .map(|e| format!("（最近错误：{e}）"))
                    .unwrap_or_default()
            ),
            Event::UnitRecovered => format!("抓取恢复：{who} 的抓取已恢复正常。"),
        };
        let mut body = body;
        // A platform's or a site's error can be long: a robot refuses a
        // message over 4,096 bytes (WeCom), so the text stays well under.
        if body.len() > MAX_TEXT_BYTES {
            let mut cut = MAX_TEXT_BYTES;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
            body.push('…');
        }
        format!("【autosync】{body}\n（{}）", time(self.at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_alert_names_unit_account_reason_and_what_to_do_in_local_time() {
        let a = Alert {
            unit: "sx-kx".into(),
            org_name: "示例省科学技术协会".into(),
            at: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
            event: Event::AccountPaused {
                account: "示例省科协".into(),
                reason: PauseReason::LoginExpired {
                    detail: "code 401".into(),
                },
                since: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
            },
        };
        let text = a.text(chrono_tz::Asia::Shanghai);
        for needle in [
            "示例省科学技术协会（sx-kx）",
            "“示例省科协”",
            "登录已过期",
            "systemctl reload autosync",
            // 1_790_000_000 is 14:13 UTC: 22:13 in Beijing.
            "2026-09-21 22:13",
        ] {
            assert!(text.contains(needle), "{needle} not in {text}");
        }
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["event"], "account_paused");
        assert_eq!(v["unit"], "sx-kx");
        assert_eq!(v["account"], "示例省科协");
        assert_eq!(v["reason"]["kind"], "login_expired");
    }
}
