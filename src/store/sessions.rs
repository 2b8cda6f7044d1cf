//! The desk's sessions, in the `meta` tree under `session \0 <hash>`, so
//! that a daemon restart (an upgrade, a reload that needed one) does not
//! log every editor out mid-review.
//!
//! What is kept is what checks a session, never what opens one: the key is
//! a hash of the session id (someone who reads the database cannot take
//! over a session with it), and the editor's token is kept as a salted
//! fingerprint, so a session can be ended when the token changes without
//! the token being written anywhere but the editors file. Validity (idle
//! time, lifetime, the editor and token still there) is the desk's to
//! decide (`admin::session`); the store only keeps, reads and sweeps.

use super::*;

const PREFIX: &[u8] = b"session\0";
/// The key that signs the login form's CSRF token (see `admin::session`).
const LOGIN_KEY: &[u8] = b"desk login key";

/// One logged-in editor's session as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SessionRecord {
    /// The editor's name in the editors file.
    pub editor: String,
    /// Hex: the salt of [`SessionRecord::token_fingerprint`], one a session.
    pub token_salt: String,
    /// Hex: SHA-256 of the salt and the editor's token at login.
    pub token_fingerprint: String,
    /// The token every state-changing form of the session carries.
    pub csrf: String,
    pub created: DateTime<Utc>,
    pub last_used: DateTime<Utc>,
}

fn session_key(id_hash: &str) -> Vec<u8> {
    let mut k = PREFIX.to_vec();
    k.extend_from_slice(id_hash.as_bytes());
    k
}

impl Store {
    /// The key that signs the desk's login forms: made with `fresh` the
    /// first time and kept, so a login page opened before a restart still
    /// logs in after it. Worth no more than the sessions beside it: whoever
    /// reads it can sign a login form, not log in (that takes a token).
    pub async fn login_key(
        &self,
        fresh: impl FnOnce() -> [u8; 32],
    ) -> Result<[u8; 32], StoreError> {
        let meta = &self.trees()?.meta;
        if let Some(v) = meta.get(LOGIN_KEY)?
            && let Ok(k) = <[u8; 32]>::try_from(v.as_ref())
        {
            return Ok(k);
        }
        let key = fresh();
        let written = meta.insert(LOGIN_KEY, &key[..]);
        self.wrote(written.map(drop).map_err(StoreError::from))?;
        self.flush().await?;
        Ok(key)
    }

    /// The session stored under `id_hash`, if any.
    pub fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let k = session_key(id_hash);
        match self.trees()?.meta.get(&k)? {
            Some(v) => decode(&k, &v).map(Some),
            None => Ok(None),
        }
    }

    /// Store a new session, flushed: a login the editor saw succeed
    /// survives a crash right after.
    pub async fn put_session(&self, id_hash: &str, s: &SessionRecord) -> Result<(), StoreError> {
        let written = self.trees()?.meta.insert(session_key(id_hash), encode(s));
        self.wrote(written.map(drop).map_err(StoreError::from))?;
        self.flush().await
    }

    /// Note a session's use, not flushed: losing it in a crash costs at
    /// most a minute of idle time (the desk writes it once a minute).
    pub fn touch_session(&self, id_hash: &str, s: &SessionRecord) -> Result<(), StoreError> {
        let written = self.trees()?.meta.insert(session_key(id_hash), encode(s));
        self.wrote(written.map(drop).map_err(StoreError::from))
    }

    /// End a session (logout, expiry, a changed token), flushed.
    pub async fn remove_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let written = self.trees()?.meta.remove(session_key(id_hash));
        self.wrote(written.map(drop).map_err(StoreError::from))?;
        self.flush().await
    }

    /// Forget a session found invalid, not flushed: should a crash bring
    /// it back, it is found invalid again.
    pub fn forget_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let written = self.trees()?.meta.remove(session_key(id_hash));
        self.wrote(written.map(drop).map_err(StoreError::from))
    }

    /// Remove every session `keep` refuses (expired, its editor gone or its
    /// token changed), not flushed (as [`Store::forget_session`]); how many
    /// went. A record that cannot be read goes too: it can never check out.
    pub fn sweep_sessions(
        &self,
        keep: impl Fn(&SessionRecord) -> bool,
    ) -> Result<usize, StoreError> {
        let trees = self.trees()?;
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for kv in trees.meta.scan_prefix(PREFIX) {
            let (k, v) = kv?;
            if !decode::<SessionRecord>(&k, &v).is_ok_and(|s| keep(&s)) {
                batch.remove(k);
                n += 1;
            }
        }
        if n > 0 {
            let written = trees.meta.apply_batch(batch);
            self.wrote(written.map_err(StoreError::from))?;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(editor: &str, last_used: DateTime<Utc>) -> SessionRecord {
        SessionRecord {
            editor: editor.into(),
            token_salt: "00".into(),
            token_fingerprint: "11".into(),
            csrf: "22".into(),
            created: last_used,
            last_used,
        }
    }

    /// Sessions are kept across a reopen, swept by the caller's rule, and
    /// removed one by one.
    #[tokio::test]
    async fn sessions_are_kept_across_a_reopen_and_swept() {
        let dir = tempfile::tempdir().unwrap();
        let now = Utc::now();
        {
            let store = Store::open(dir.path()).unwrap();
            store.put_session("aa", &record("甲", now)).await.unwrap();
            store
                .put_session("bb", &record("乙", now - chrono::Duration::days(9)))
                .await
                .unwrap();
            store.put_session("cc", &record("丙", now)).await.unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.session("aa").unwrap(), Some(record("甲", now)));
        let swept = store
            .sweep_sessions(|s| now - s.last_used < chrono::Duration::days(1))
            .unwrap();
        assert_eq!(swept, 1);
        assert_eq!(store.session("bb").unwrap(), None);
        store.remove_session("cc").await.unwrap();
        assert_eq!(store.session("cc").unwrap(), None);
        assert!(store.session("aa").unwrap().is_some());
        // Nothing to sweep: nothing is written.
        assert_eq!(store.sweep_sessions(|_| true).unwrap(), 0);
        store.forget_session("aa").unwrap();
        assert_eq!(store.session("aa").unwrap(), None);
    }
}
