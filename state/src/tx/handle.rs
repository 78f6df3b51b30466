//! tx: the [`crate::Store`] methods, on either backend.

use crate::error::StoreError;
use crate::store::Store;
use crate::store::on_backend;
use crate::tx::{Tx, TxOutcome};

impl Store {
    /// Applies `tx` in one atomic step: all its writes, or none when a
    /// guard does not hold (see [`Tx`]).
    pub async fn commit(&self, tx: &Tx) -> Result<TxOutcome, StoreError> {
        let outcomes = self.commit_all(std::slice::from_ref(tx)).await?;
        outcomes
            .first()
            .copied()
            .ok_or_else(|| StoreError::Protocol("no outcome for the commit".into()))
    }

    /// Applies each of `txs` on its own (a refused one does not hold back
    /// the others), all in one atomic step and one round trip; outcomes in
    /// order.
    pub async fn commit_all(&self, txs: &[Tx]) -> Result<Vec<TxOutcome>, StoreError> {
        crate::tx::check_one_slot(txs)?;
        crate::tx::check_partitions(txs)?;
        on_backend!(self, "state.commit_all", "EVALSHA", b => b.commit_all(txs))
    }
}
