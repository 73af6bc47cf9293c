//! The HD workload: a deterministic generator of a helpdesk's directory and
//! ticket history, through the real domain rules (`create`/`decide`), so both
//! stores are loaded with the same, valid tickets and logs.

use chrono::{DateTime, Duration, Utc};
use helpdesk_core::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// SplitMix64: small, fast, deterministic.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        (((self.next_u64() >> 11) as u128 * n as u128) >> 53) as u64
    }
    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    /// Skewed towards 0: `floor(n * u^k)`.
    pub fn skewed(&mut self, n: u64, k: f64) -> u64 {
        ((n as f64 * self.unit().powf(k)) as u64).min(n - 1)
    }
    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The size of a workload. HD-1M is `Shape::hd(1_000_000)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Tickets.
    pub tickets: u64,
    /// Agents.
    pub agents: u64,
    /// Teams.
    pub teams: u64,
    /// Departments.
    pub departments: u64,
    /// Users.
    pub users: u64,
    /// Organisations (half the users belong to one, by email domain).
    pub organisations: u64,
}

impl Shape {
    /// 200 agents, 20 teams, 10 departments, one user per 10 tickets (100,000
    /// at 1M), one organisation per 100 users.
    pub fn hd(tickets: u64) -> Shape {
        let users = (tickets / 10).max(100);
        Shape { tickets, agents: 200, teams: 20, departments: 10, users, organisations: (users / 100).max(1) }
    }
}

/// The labels tickets get; `vip` is the one the custom filter looks for.
pub const LABELS: [&str; 12] = [
    "vip",
    "bug",
    "refund",
    "invoice",
    "login",
    "outage",
    "feature",
    "billing",
    "mobile",
    "api",
    "urgent",
    "follow-up",
];

/// The directory the tickets refer to, as created in the stores.
#[derive(Debug, Clone)]
pub struct World {
    /// Departments.
    pub departments: Vec<Department>,
    /// Teams.
    pub teams: Vec<Team>,
    /// Agents (agent 1 is an admin: the dispatcher).
    pub agents: Vec<Agent>,
    /// Number of users (ids 1..=users).
    pub users: u64,
    /// For each department index, the agents who may see it.
    pub agents_by_department: Vec<Vec<AgentId>>,
}

impl World {
    /// The agents to create: agent 1 is an admin; 70% of the rest see every
    /// department, 30% three of them; each is in one team, 20% in two.
    pub fn agents_to_create(
        shape: &Shape,
        departments: &[DepartmentId],
        teams: &[TeamId],
    ) -> Vec<(String, String, BTreeSet<TeamId>, Permissions)> {
        let mut rng = Rng::new(7);
        (1..=shape.agents)
            .map(|i| {
                let mut t = BTreeSet::from([teams[(i as usize) % teams.len()]]);
                if rng.chance(0.2) {
                    t.insert(*rng.pick(teams));
                }
                let permissions = if i == 1 {
                    Permissions::admin()
                } else if rng.chance(0.3) {
                    let mut ds = BTreeSet::new();
                    while ds.len() < 3.min(departments.len()) {
                        ds.insert(*rng.pick(departments));
                    }
                    Permissions { departments: Some(ds), ..Permissions::default() }
                } else {
                    Permissions::default()
                };
                (format!("Agent {i}"), format!("agent{i}@helpdesk.test"), t, permissions)
            })
            .collect()
    }

    /// The email address of user `i` (1-based): half at an organisation's domain.
    pub fn user_email(shape: &Shape, i: u64) -> String {
        if i.is_multiple_of(2) {
            format!("user{i}@org{}.test", i % shape.organisations + 1)
        } else {
            format!("user{i}@mail{}.test", i % 97)
        }
    }

    /// Builds the world from what the store created.
    pub fn new(departments: Vec<Department>, teams: Vec<Team>, agents: Vec<Agent>, users: u64) -> World {
        let agents_by_department = departments
            .iter()
            .map(|d| agents.iter().filter(|a| a.permissions.can_see(d.id)).map(|a| a.id).collect())
            .collect();
        World { departments, teams, agents, users, agents_by_department }
    }

    fn agent(&self, id: AgentId) -> &Agent {
        &self.agents[(id.0 - 1) as usize]
    }
}

/// A [`Directory`] over the world, with users made up on demand (the rules
/// only look at a user's id and whether their address is validated).
struct GenDir<'a> {
    world: &'a World,
    departments: HashMap<DepartmentId, Department>,
    teams: HashMap<TeamId, Team>,
    agents: HashMap<AgentId, Agent>,
    validated: bool,
}

impl Directory for GenDir<'_> {
    fn department(&self, id: DepartmentId) -> Option<Department> {
        self.departments.get(&id).cloned()
    }
    fn agent(&self, id: AgentId) -> Option<Agent> {
        self.agents.get(&id).cloned()
    }
    fn team(&self, id: TeamId) -> Option<Team> {
        self.teams.get(&id).cloned()
    }
    fn user(&self, id: UserId) -> Option<User> {
        (id.0 >= 1 && id.0 <= self.world.users).then(|| User {
            id,
            name: format!("User {}", id.0),
            emails: vec![Email::parse(&format!("user{}@example.test", id.0)).expect("valid")],
            phone: None,
            organisation: None,
            usergroups: BTreeSet::new(),
            validated: self.validated,
            fields: BTreeMap::new(),
            created_at: DateTime::UNIX_EPOCH,
            blocked: false,
            language: None,
        })
    }
}

/// One generated ticket: its final state and its log.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The state the log folds to.
    pub ticket: Ticket,
    /// The log.
    pub events: Vec<TicketEvent>,
}

/// Generates tickets one at a time (so 1M tickets never sit in memory).
pub struct Generator<'a> {
    world: &'a World,
    dir: GenDir<'a>,
    rng: Rng,
    shape: Shape,
    start: DateTime<Utc>,
    step: Duration,
}

const BODIES: [&str; 6] = [
    "Hello, I cannot log in since this morning. Can you help?",
    "The invoice for last month looks wrong: we were charged twice.",
    "Our integration returns 500 errors on every request.",
    "Thanks, that worked. One more question about the export.",
    "Could you tell me when the feature will be available?",
    "The app crashes on start on my phone after the update.",
];

impl<'a> Generator<'a> {
    /// A generator whose tickets are spread over the two years before `end`.
    pub fn new(world: &'a World, shape: Shape, seed: u64, end: DateTime<Utc>) -> Self {
        let span = Duration::days(730);
        let dir = GenDir {
            world,
            departments: world.departments.iter().map(|d| (d.id, d.clone())).collect(),
            teams: world.teams.iter().map(|t| (t.id, t.clone())).collect(),
            agents: world.agents.iter().map(|a| (a.id, a.clone())).collect(),
            validated: true,
        };
        let step = Duration::microseconds(span.num_microseconds().unwrap_or(0) / shape.tickets.max(1) as i64);
        Generator { world, dir, rng: Rng::new(seed), shape, start: end - span - Duration::days(7), step }
    }

    /// Ticket number `i` (0-based) with id `id`: created through the portal,
    /// email or API by its user, then worked by agents to a realistic final
    /// state (15% awaiting agent, 15% awaiting user, 5% pending, 59% resolved,
    /// 3% spam, 2% deleted, 1% validating).
    pub fn ticket(&mut self, i: u64, id: TicketId) -> Generated {
        let rng = &mut self.rng;
        let w = self.world;
        let di = rng.skewed(w.departments.len() as u64, 1.6) as usize;
        let dept = &w.departments[di];
        let user = UserId(1 + rng.skewed(self.shape.users, 1.3));
        let mut channel = match rng.below(10) {
            0..=5 => Channel::Email,
            6..=8 => Channel::Portal,
            _ => Channel::Api,
        };
        let final_status = match rng.below(100) {
            0..=14 => Status::AwaitingAgent,
            15..=29 => Status::AwaitingUser,
            30..=34 => Status::Pending,
            35..=93 => Status::Resolved,
            94..=96 => Status::Spam,
            97..=98 => Status::Deleted,
            _ => Status::Validating,
        };
        if final_status == Status::Validating {
            channel = Channel::Email;
        }
        let mut now = self.start + self.step * i as i32 + Duration::seconds(rng.below(60) as i64);
        let body = *rng.pick(&BODIES);
        let mut new = NewTicket::new(format!("Ticket {i}: {}", &body[..24]), body, dept.id, user, channel);
        if rng.chance(0.3) {
            new.fields.insert(
                "plan".into(),
                FieldValue::Choice(rng.pick(&["basic", "pro", "enterprise"]).to_string()),
            );
        }
        let policy = Policy { require_validation: final_status == Status::Validating, ..Policy::default() };
        self.dir.validated = final_status != Status::Validating;
        let mut events = create(id, new, &Actor::User(user), now, &self.dir, &policy).expect("valid ticket");
        self.dir.validated = true;
        let mut t = Ticket::from_events(&events).expect("folds");
        let dispatcher = Actor::Agent(AgentId(1));
        let mut cmds: Vec<(Actor, Command)> = Vec::new();
        // Assignment.
        let unassigned_p = if final_status == Status::AwaitingAgent { 0.3 } else { 0.15 };
        let (agent, team) = if rng.chance(unassigned_p) {
            (None, None)
        } else {
            let a = *rng.pick(&w.agents_by_department[di]);
            let ag = w.agent(a);
            let team = *ag.teams.iter().next().expect("every agent has a team");
            match rng.below(100) {
                0..=64 => (Some(a), Some(team)),
                65..=89 => (Some(a), None),
                _ => (None, Some(team)),
            }
        };
        if agent.is_some() {
            cmds.push((dispatcher.clone(), Command::AssignAgent { agent }));
        }
        if team.is_some() {
            cmds.push((dispatcher.clone(), Command::AssignTeam { team }));
        }
        let urgency = match rng.below(100) {
            0..=39 => 1,
            40..=74 => 2 + rng.below(3) as i64,
            75..=92 => 5 + rng.below(3) as i64,
            _ => 8 + rng.below(3) as i64,
        };
        if urgency > 1 {
            cmds.push((
                dispatcher.clone(),
                Command::SetUrgency { urgency: Urgency::new(urgency).expect("1..=10") },
            ));
        }
        if rng.chance(0.05) {
            cmds.push((dispatcher.clone(), Command::AddLabel { label: "vip".into() }));
        }
        if rng.chance(0.2) {
            for _ in 0..1 + rng.below(2) {
                let l = LABELS[1 + rng.below(LABELS.len() as u64 - 1) as usize];
                cmds.push((dispatcher.clone(), Command::AddLabel { label: l.into() }));
            }
        }
        if rng.chance(0.08) {
            let f = *rng.pick(&w.agents_by_department[di]);
            cmds.push((dispatcher.clone(), Command::Follow { agent: f }));
        }
        let worker = Actor::Agent(agent.unwrap_or(AgentId(1)));
        let reply = |status: Option<Status>| Command::AgentReply {
            body: "Thanks for getting in touch, we are looking into it.".into(),
            attachments: vec![],
            status,
        };
        let user_reply = || Command::UserReply {
            body: "Here is more detail.".into(),
            attachments: vec![],
            channel: Channel::Email,
        };
        let by_user = Actor::User(user);
        match final_status {
            Status::AwaitingAgent => {
                if rng.chance(0.4) {
                    cmds.push((worker.clone(), reply(None)));
                    cmds.push((by_user.clone(), user_reply()));
                }
            }
            Status::AwaitingUser => cmds.push((worker.clone(), reply(None))),
            Status::Pending => cmds.push((worker.clone(), reply(Some(Status::Pending)))),
            Status::Resolved => {
                cmds.push((worker.clone(), reply(None)));
                if rng.chance(0.5) {
                    cmds.push((by_user.clone(), user_reply()));
                    cmds.push((worker.clone(), reply(None)));
                }
                cmds.push((worker.clone(), Command::SetStatus { status: Status::Resolved }));
            }
            Status::Spam => cmds.push((dispatcher.clone(), Command::MarkSpam)),
            Status::Deleted => {
                cmds.push((worker.clone(), reply(None)));
                cmds.push((dispatcher.clone(), Command::Delete));
            }
            Status::Validating => {}
        }
        for (actor, cmd) in cmds {
            now += Duration::minutes(1 + rng.below(600) as i64);
            let evs = decide(&t, &cmd, &actor, now, &self.dir, &Policy::default())
                .unwrap_or_else(|e| panic!("generator command {cmd:?} on {} refused: {e}", t.id));
            for e in &evs {
                t.apply(e).expect("applies");
            }
            events.extend(evs);
        }
        debug_assert_eq!(t.status, final_status);
        Generated { ticket: t, events }
    }
}
