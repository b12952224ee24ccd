//! jevons-core: the vocabulary every other crate shares — exact [`Money`], [`Usage`] with
//! every token class, request [`Attribution`], ids, and an injectable [`Clock`].
//! No I/O lives here.

pub mod attribution;
pub mod clock;
pub mod id;
pub mod money;
pub mod usage;

pub use attribution::Attribution;
pub use clock::{Clock, ManualClock, SystemClock};
pub use id::RequestId;
pub use money::{Money, MoneyError, MoneySum};
pub use usage::Usage;
