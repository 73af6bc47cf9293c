//! Runs [`Filter`]s against any [`Store`]: picks a plan, merges its index
//! streams, post-filters within a budget, and counts.
//!
//! Cost of one page (see `helpdesk_core::index` for the streams):
//! - one [`Store::stream_sizes`] read per (family, owner, status) of the plan,
//!   which tells which department streams are non-empty and how big they are
//!   (in memory in `KvStore`: one hash lookup);
//! - one index range scan per non-empty stream, plus refills of the streams
//!   the page draws most from (batches double, so O(log page) refills);
//! - one summary read per candidate.
//!
//! None of this depends on the number of tickets. A post-filtered plan also
//! reads the summaries of the candidates it rejects, at most
//! [`EXAMINE_BUDGET`] per page.

use helpdesk_core::filter::*;
use helpdesk_core::index::{Family, Stream, ANY_DEPARTMENT};
use helpdesk_core::*;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;

/// Looks up users' organisations from the store, once per user per request.
pub(crate) struct StoreContext<'a> {
    store: &'a dyn Store,
    cache: RefCell<HashMap<UserId, Option<OrganisationId>>>,
    error: RefCell<Option<StoreError>>,
}

impl<'a> StoreContext<'a> {
    pub(crate) fn new(store: &'a dyn Store) -> Self {
        StoreContext { store, cache: RefCell::default(), error: RefCell::default() }
    }

    /// The first store error a lookup met (lookups cannot fail inside `matches`).
    fn take_error(&self) -> Result<(), StoreError> {
        match self.error.borrow_mut().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl FilterContext for StoreContext<'_> {
    fn organisation_of(&self, user: UserId) -> Option<OrganisationId> {
        if let Some(o) = self.cache.borrow().get(&user) {
            return *o;
        }
        let org = match self.store.record(RecordKind::User, user.0) {
            Ok(Some(Record::User(u))) => u.organisation,
            Ok(_) => None,
            Err(e) => {
                self.error.borrow_mut().get_or_insert(e);
                None
            }
        };
        self.cache.borrow_mut().insert(user, org);
        org
    }
}

/// Stream sizes by (family, owner, status), read once per request.
#[derive(Default)]
struct Sizes(HashMap<(Family, u64, Status), Vec<(Stream, u64)>>);

impl Sizes {
    fn of(&mut self, store: &dyn Store, src: &Source) -> Result<&[(Stream, u64)], StoreError> {
        use std::collections::hash_map::Entry;
        Ok(match self.0.entry((src.family, src.owner, src.status)) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => e.insert(store.stream_sizes(src.family, src.owner, src.status)?),
        })
    }
}

/// Every department id (for the uncounted families, whose non-empty streams
/// counters cannot tell).
fn all_departments(store: &dyn Store) -> Result<Vec<DepartmentId>, StoreError> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store.records(RecordKind::Department, after, 256)?;
        let Some(last) = page.last() else { return Ok(out) };
        after = last.key().1;
        out.extend(page.iter().map(|r| DepartmentId(r.key().1)));
    }
}

/// Streams with their sizes (`None`: not counted).
type Streams = Vec<(Stream, Option<u64>)>;

/// The streams a plan reads for `viewer`, with their sizes (`None`: unknown).
/// A viewer who may see every department, on a plan that does not restrict
/// departments, reads one stream per source across all departments
/// ([`ANY_DEPARTMENT`]); others read one stream per visible department.
fn expand(store: &dyn Store, viewer: &Viewer, plan: &Plan, sizes: &mut Sizes) -> Result<Streams, StoreError> {
    let mut out = Vec::new();
    let mut departments: Option<Vec<DepartmentId>> = None;
    let mut seen = BTreeSet::new();
    let everywhere = viewer.departments.is_none() && plan.departments.is_none();
    for src in &plan.sources {
        if !seen.insert(*src) {
            continue;
        }
        let any =
            Stream { family: src.family, owner: src.owner, status: src.status, department: ANY_DEPARTMENT };
        if src.family.counted() {
            let per_department = sizes.of(store, src)?.iter();
            if everywhere {
                let total: u64 = per_department.map(|(_, n)| n).sum();
                if total > 0 {
                    out.push((any, Some(total)));
                }
            } else {
                for (s, n) in per_department {
                    if plan.reads_department(viewer, s.department) {
                        out.push((*s, Some(*n)));
                    }
                }
            }
        } else if everywhere {
            out.push((any, None));
        } else {
            if departments.is_none() {
                departments = Some(all_departments(store)?);
            }
            for d in departments.iter().flatten() {
                if plan.reads_department(viewer, *d) {
                    out.push((Stream { department: *d, ..any }, None));
                }
            }
        }
    }
    Ok(out)
}

/// Guess for a stream without a counter (only [`Family::User`]: one user's
/// tickets in one status and department are few).
const UNCOUNTED_GUESS: u64 = 16;

/// The plan with the fewest candidates, and its streams.
fn choose(
    store: &dyn Store,
    viewer: &Viewer,
    filter: &dyn Filter,
    sizes: &mut Sizes,
) -> Result<(Plan, Streams), StoreError> {
    let mut best: Option<(u64, bool, Plan, Streams)> = None;
    for plan in filter.plans(viewer) {
        if plan.order != filter.order() {
            return Err(StoreError::Backend(format!(
                "filter {} gave a plan in order {} for its order {}",
                filter.name(),
                plan.order,
                filter.order()
            )));
        }
        let streams = expand(store, viewer, &plan, sizes)?;
        let estimate: u64 = streams.iter().map(|(_, n)| n.unwrap_or(UNCOUNTED_GUESS)).sum();
        let better = match &best {
            None => true,
            Some((e, post, _, _)) => (estimate, plan.post_filter) < (*e, *post),
        };
        if better {
            best = Some((estimate, plan.post_filter, plan, streams));
        }
    }
    let (_, _, plan, streams) =
        best.ok_or_else(|| StoreError::Backend(format!("filter {} has no plan", filter.name())))?;
    Ok((plan, streams))
}

/// One stream being read: buffered key suffixes (sort bytes + id).
struct Reader {
    prefix: Vec<u8>,
    /// Whole keys; the suffix starts at `prefix.len()` (the same for every stream).
    buf: VecDeque<IndexKey>,
    /// Full key to continue from (exclusive), in the read direction.
    pos: Option<IndexKey>,
    done: bool,
    batch: usize,
}

fn with_prefix(prefix: &[u8], suffix: &[u8]) -> IndexKey {
    let mut k = Vec::with_capacity(prefix.len() + suffix.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(suffix);
    IndexKey(k)
}

impl Reader {
    fn new(s: &Stream, plan: &Plan, cursor: Option<&[u8]>, batch: usize) -> Reader {
        let prefix = s.prefix(plan.order.key());
        // Start at the cursor or the bound, whichever is further along.
        let start: Option<&[u8]> = match (cursor, plan.lo.as_deref()) {
            (Some(c), Some(l)) => Some(c.max(l)),
            (c, l) => c.or(l),
        };
        let pos = start.map(|s| with_prefix(&prefix, s));
        Reader { prefix, buf: VecDeque::new(), pos, done: false, batch }
    }

    fn fill(&mut self, store: &dyn Store, plan: &Plan) -> Result<(), StoreError> {
        if self.done || !self.buf.is_empty() {
            return Ok(());
        }
        let keys = store.scan_index(&self.prefix, self.pos.as_ref(), self.batch)?;
        if keys.len() < self.batch {
            self.done = true;
        }
        self.batch = (self.batch * 2).min(1024);
        self.pos = keys.last().cloned();
        let plen = self.prefix.len();
        for k in keys {
            let suffix = &k.0[plen..];
            if plan.hi.as_deref().is_some_and(|hi| suffix >= hi) {
                self.done = true;
                break;
            }
            self.buf.push_back(k);
        }
        Ok(())
    }

    fn head(&self) -> Option<&[u8]> {
        self.buf.front().map(|k| &k.0[self.prefix.len()..])
    }
}

fn ticket_of(suffix: &[u8]) -> Option<TicketId> {
    Some(TicketId(u64::from_be_bytes(suffix.get(suffix.len().checked_sub(8)?..)?.try_into().ok()?)))
}

/// Loads candidates and keeps those the filter shows.
fn admit(
    store: &dyn Store,
    viewer: &Viewer,
    filter: &dyn Filter,
    ctx: &StoreContext<'_>,
    ids: &mut Vec<TicketId>,
    out: &mut Vec<Arc<TicketSummary>>,
) -> Result<(), StoreError> {
    // One read for the batch (one round trip on PostgreSQL).
    for s in store.summaries(ids)?.into_iter().flatten() {
        // Always checked: cheap, and it keeps a page right when a ticket
        // changed between the index read and the summary read.
        if viewer.can_see(s.department) && filter.matches(&s, viewer, ctx) {
            out.push(s);
        }
    }
    ids.clear();
    ctx.take_error()
}

pub(crate) fn page(
    store: &dyn Store,
    viewer: &Viewer,
    filter: &dyn Filter,
    cursor: Option<&Cursor>,
    limit: usize,
) -> Result<FilterPage, crate::Error> {
    if limit == 0 || limit > MAX_PAGE {
        return Err(FilterError::PageSize { got: limit, max: MAX_PAGE }.into());
    }
    let order = filter.order();
    if let Some(c) = cursor {
        if c.order() != order {
            return Err(FilterError::CursorOrder { cursor: c.order(), filter: order }.into());
        }
    }
    let mut sizes = Sizes::default();
    let (plan, streams) = choose(store, viewer, filter, &mut sizes)?;
    let ctx = StoreContext::new(store);
    let first_batch = (limit + 1).div_ceil(streams.len().max(1)).max(2) + 1;
    let mut readers: Vec<Reader> = streams
        .iter()
        .filter(|(_, n)| *n != Some(0))
        .map(|(s, n)| {
            let batch = n.map_or(first_batch, |n| first_batch.min(n as usize + 1));
            Reader::new(s, &plan, cursor.map(|c| c.suffix()), batch)
        })
        .collect();
    let mut out = Vec::with_capacity(limit);
    let mut candidates = Vec::with_capacity(limit);
    let mut examined = 0;
    let mut last: Option<(IndexKey, usize)> = None;
    let more = loop {
        if out.len() + candidates.len() == limit {
            admit(store, viewer, filter, &ctx, &mut candidates, &mut out)?;
        }
        for r in readers.iter_mut() {
            r.fill(store, &plan)?;
        }
        let mut best: Option<usize> = None;
        for (i, r) in readers.iter().enumerate() {
            if let Some(h) = r.head() {
                if best.is_none_or(|b| h < readers[b].head().unwrap_or_default()) {
                    best = Some(i);
                }
            }
        }
        let Some(best) = best else { break false };
        if out.len() == limit || examined >= EXAMINE_BUDGET {
            break true;
        }
        let head = readers[best].buf.pop_front().expect("has a head");
        let plen = readers[best].prefix.len();
        // The same ticket at the same position in another stream (a ticket
        // two listed followers follow, or with two listed labels).
        for (i, r) in readers.iter_mut().enumerate() {
            if i != best && r.head() == Some(&head.0[plen..]) {
                r.buf.pop_front();
            }
        }
        examined += 1;
        let suffix = &head.0[plen..];
        if plan.admits_key(suffix) {
            candidates.extend(ticket_of(suffix));
        }
        last = Some((head, plen));
    };
    admit(store, viewer, filter, &ctx, &mut candidates, &mut out)?;
    let next = match (more, last) {
        (true, Some((k, plen))) => Some(Cursor::new(order, k.0[plen..].to_vec())),
        (true, None) => cursor.cloned(),
        (false, _) => None,
    };
    Ok(FilterPage { partial: more && out.len() < limit, tickets: out, next, examined })
}

pub(crate) fn count(
    store: &dyn Store,
    viewer: &Viewer,
    filter: &dyn Filter,
) -> Result<FilterCount, crate::Error> {
    let mut sizes = Sizes::default();
    let (plan, streams) = choose(store, viewer, filter, &mut sizes)?;
    if plan.counts_exactly() {
        let n = streams.iter().map(|(_, n)| n.unwrap_or(0)).sum();
        return Ok(FilterCount { count: n, exact: true });
    }
    let ctx = StoreContext::new(store);
    let mut seen = HashSet::new();
    let mut examined = 0;
    let mut ids = Vec::new();
    let mut admitted = Vec::new();
    let mut total = 0u64;
    for (s, n) in &streams {
        if *n == Some(0) {
            continue;
        }
        let mut reader = Reader::new(s, &plan, None, 256);
        loop {
            reader.fill(store, &plan)?;
            let Some(key) = reader.buf.pop_front() else { break };
            let suffix = &key.0[reader.prefix.len()..];
            examined += 1;
            if examined > COUNT_BUDGET {
                admit(store, viewer, filter, &ctx, &mut ids, &mut admitted)?;
                return Ok(FilterCount { count: total + admitted.len() as u64, exact: false });
            }
            if plan.admits_key(suffix) {
                if let Some(id) = ticket_of(suffix).filter(|id| seen.insert(*id)) {
                    ids.push(id);
                }
            }
            if ids.len() >= 256 {
                admit(store, viewer, filter, &ctx, &mut ids, &mut admitted)?;
                total += admitted.len() as u64;
                admitted.clear();
            }
        }
    }
    admit(store, viewer, filter, &ctx, &mut ids, &mut admitted)?;
    Ok(FilterCount { count: total + admitted.len() as u64, exact: true })
}

/// The counts of every built-in filter for `viewer`, from counters only.
pub(crate) fn builtin_counts(store: &dyn Store, viewer: &Viewer) -> Result<Vec<(BuiltIn, u64)>, StoreError> {
    let mut sizes = Sizes::default();
    let mut out = Vec::with_capacity(BuiltIn::ALL.len());
    for b in BuiltIn::ALL {
        let mut n = 0;
        for src in b.sources(viewer) {
            for (s, c) in sizes.of(store, &src)? {
                if viewer.can_see(s.department) {
                    n += c;
                }
            }
        }
        out.push((b, n));
    }
    Ok(out)
}
