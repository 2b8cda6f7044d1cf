use super::*;
use crate::model::{AccountKey, AccountState};

fn account_key(a: &AccountKey) -> Vec<u8> {
    key2(&a.unit, &a.account)
}

impl Store {
    /// What is known of an account (paused, rate-limited, verified).
    pub fn account_state(&self, a: &AccountKey) -> Result<AccountState, StoreError> {
        let k = account_key(a);
        match self.trees()?.accounts.get(&k)? {
            Some(v) => decode(&k, &v),
            None => Ok(AccountState::default()),
        }
    }

    /// Replace an account's state and flush. Only the account's outbox
    /// writes it, under its lock (one writer).
    pub async fn put_account_state(
        &self,
        a: &AccountKey,
        st: &AccountState,
    ) -> Result<(), StoreError> {
        let written = self.trees()?.accounts.insert(account_key(a), encode(st));
        self.wrote(written.map_err(StoreError::from))?;
        self.flush().await
    }
}
