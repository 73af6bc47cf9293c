//! Saved custom filters: what agents make from the filter pane's [+], kept
//! per agent and optionally shared with a team or everyone (the rules are
//! [`helpdesk_core::filters::saved`]'s). Reached through
//! [`Helpdesk::saved_filters`].

use crate::helpdesk::{Error, Helpdesk, Result};
use helpdesk_core::filter::{Cursor, FilterCount, FilterPage};
use helpdesk_core::filters::saved::{self, NewSavedFilter, SavedFilter, SavedFilterError};
use helpdesk_core::*;

/// The saved filters of a [`Helpdesk`], as one agent works with them: every
/// call is on behalf of `agent`, who sees their own filters and those shared
/// with them, and changes only their own (admins: any).
///
/// ```
/// use helpdesk_core::filter::{AgentRef, Criteria, CustomFilter};
/// use helpdesk_core::filters::saved::{NewSavedFilter, Sharing};
/// use helpdesk_core::*;
/// use helpdesk_store::{Helpdesk, NewAgent};
///
/// let hd = Helpdesk::in_memory();
/// let support = hd.create_department("Support", vec![]).unwrap();
/// let team = hd.create_team("Tier 1").unwrap();
/// let sam = hd.create_agent(NewAgent::new("Sam", "sam@example.com").teams([team.id])).unwrap();
/// let kim = hd.create_agent(NewAgent::new("Kim", "kim@example.com").teams([team.id])).unwrap();
///
/// let mine = Criteria { agent: vec![AgentRef::Me], ..Default::default() };
/// let f = hd
///     .saved_filters(sam.id)
///     .create(NewSavedFilter { filter: CustomFilter::new("Mine", mine), sharing: Sharing::Team(team.id) })
///     .unwrap();
/// // Kim, in the same team, sees it and its count (of Kim's own tickets).
/// let kims = hd.saved_filters(kim.id).list().unwrap();
/// assert_eq!(kims[0].id, f.id);
/// assert_eq!(hd.saved_filters(kim.id).count(f.id).unwrap().count, 0);
/// // Only Sam (or an admin) may change it.
/// assert!(hd.saved_filters(kim.id).delete(f.id).is_err());
/// hd.saved_filters(sam.id).delete(f.id).unwrap();
/// # let _ = support;
/// ```
pub struct SavedFilters<'a> {
    hd: &'a Helpdesk,
    agent: AgentId,
}

impl Helpdesk {
    /// The saved custom filters, as `agent` works with them.
    pub fn saved_filters(&self, agent: AgentId) -> SavedFilters<'_> {
        SavedFilters { hd: self, agent }
    }
}

impl SavedFilters<'_> {
    fn me(&self) -> Result<Agent> {
        self.hd.agent(self.agent)
    }

    fn all(&self) -> Result<Vec<SavedFilter>> {
        self.hd.all(RecordKind::SavedFilter, |r| if let Record::SavedFilter(f) = r { Some(*f) } else { None })
    }

    /// The filters the agent sees: their own first, then those shared with
    /// them, each group by name.
    pub fn list(&self) -> Result<Vec<SavedFilter>> {
        let me = self.me()?;
        let mut out: Vec<SavedFilter> = self.all()?.into_iter().filter(|f| f.visible_to(&me)).collect();
        out.sort_by_cached_key(|f| (f.owner != me.id, f.filter.name.to_lowercase(), f.id));
        Ok(out)
    }

    /// One filter the agent sees ([`SavedFilterError::NotFound`] otherwise,
    /// also for a filter that exists but is not shared with them).
    pub fn get(&self, id: SavedFilterId) -> Result<SavedFilter> {
        let me = self.me()?;
        match self.hd.store().record(RecordKind::SavedFilter, id.0)? {
            Some(Record::SavedFilter(f)) if f.visible_to(&me) => Ok(*f),
            _ => Err(SavedFilterError::NotFound(id).into()),
        }
    }

    /// Saves a new filter owned by the agent.
    pub fn create(&self, new: NewSavedFilter) -> Result<SavedFilter> {
        let me = self.me()?;
        self.checked(&new, &me)?;
        let f = SavedFilter {
            id: SavedFilterId(self.hd.store().next_id(IdKind::SavedFilter)?),
            owner: me.id,
            filter: CustomFilter { name: saved::clean_name(&new.filter.name)?, ..new.filter },
            sharing: new.sharing,
        };
        self.store(f)
    }

    /// Replaces a filter's name, criteria, order and sharing (its owner or an admin).
    pub fn update(&self, id: SavedFilterId, new: NewSavedFilter) -> Result<SavedFilter> {
        let me = self.me()?;
        let old = self.get(id)?;
        if !old.editable_by(&me) {
            return Err(SavedFilterError::NotEditable(old.filter.name).into());
        }
        // Sharing is checked as the owner would share it, unless an admin edits.
        let sharer = if me.permissions.admin { me } else { self.hd.agent(old.owner)? };
        self.checked(&new, &sharer)?;
        let f = SavedFilter {
            filter: CustomFilter { name: saved::clean_name(&new.filter.name)?, ..new.filter },
            sharing: new.sharing,
            ..old
        };
        self.store(f)
    }

    /// Deletes a filter (its owner or an admin).
    pub fn delete(&self, id: SavedFilterId) -> Result<()> {
        let me = self.me()?;
        let old = self.get(id)?;
        if !old.editable_by(&me) {
            return Err(SavedFilterError::NotEditable(old.filter.name).into());
        }
        self.hd.store().delete_record(RecordKind::SavedFilter, id.0)?;
        Ok(())
    }

    /// How many tickets the filter lists for the agent: exact from counters
    /// when its criteria allow (status, department, agent, team, one
    /// follower), otherwise counted within a budget (see
    /// [`Helpdesk::filter_count`]).
    pub fn count(&self, id: SavedFilterId) -> Result<FilterCount> {
        let f = self.get(id)?;
        self.hd.filter_count(self.agent, &f.filter)
    }

    /// Every filter the agent sees, with its count.
    pub fn counts(&self) -> Result<Vec<(SavedFilter, FilterCount)>> {
        let viewer = self.hd.viewer(self.agent)?;
        self.list()?
            .into_iter()
            .map(|f| {
                let c = self.hd.viewer_count(&viewer, &f.filter)?;
                Ok((f, c))
            })
            .collect()
    }

    /// A page of the filter's tickets for the agent, after `cursor`.
    pub fn page(&self, id: SavedFilterId, cursor: Option<&Cursor>, limit: usize) -> Result<FilterPage> {
        let f = self.get(id)?;
        self.hd.filter_page(self.agent, &f.filter, cursor, limit)
    }

    fn checked(&self, new: &NewSavedFilter, agent: &Agent) -> Result<()> {
        let dir = crate::automation::StoreDirectory::new(&**self.hd.store());
        let r = saved::check(new, agent, &dir);
        dir.check()?;
        Ok(r?)
    }

    fn store(&self, f: SavedFilter) -> Result<SavedFilter> {
        match self.hd.store().put_record(&Record::SavedFilter(Box::new(f.clone()))) {
            Ok(()) => Ok(f),
            Err(StoreError::Unique { .. }) => Err(SavedFilterError::NameTaken(f.filter.name).into()),
            Err(e) => Err(e.into()),
        }
    }
}

impl From<SavedFilterError> for Error {
    fn from(e: SavedFilterError) -> Self {
        Error::SavedFilter(e)
    }
}
