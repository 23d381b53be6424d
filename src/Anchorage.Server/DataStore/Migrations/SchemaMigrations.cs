namespace Anchorage.Server.DataStore.Migrations;

/// <summary>
/// The datastore schema, as numbered steps for both dialects. A database records the steps it has in
/// <c>schema_version</c>; opening applies the missing ones, and refuses a database whose version is
/// newer than <see cref="Latest"/> (written by a newer server: downgrading is not supported).
/// </summary>
/// <remarks>
/// Conventions: timestamps are UTC unix milliseconds (bigint), durations milliseconds, lists JSON
/// arrays of strings; PostgreSQL text keys use the "C" collation so both backends order ids by bytes.
/// Entry revisions and deletion tombstones share one counter (<c>counters.revision</c>).
/// </remarks>
internal static class SchemaMigrations
{
    public static IReadOnlyList<Migration> All { get; } =
    [
        new Migration(
            1,
            "entries, tombstones, join tokens, nodes, authorities, bundles",
            Sqlite: """
                CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
                INSERT INTO counters (name, value) VALUES ('revision', 0);
                CREATE TABLE entries (
                    id TEXT PRIMARY KEY,
                    revision INTEGER NOT NULL UNIQUE,
                    spiffe_id TEXT NOT NULL,
                    parent_id TEXT NOT NULL,
                    selectors TEXT NOT NULL,
                    identity_hash BLOB NOT NULL UNIQUE,
                    x509_svid_ttl_ms INTEGER,
                    jwt_svid_ttl_ms INTEGER,
                    federates_with TEXT NOT NULL,
                    dns_names TEXT NOT NULL,
                    hint TEXT,
                    admin INTEGER NOT NULL,
                    downstream INTEGER NOT NULL,
                    created_at INTEGER NOT NULL);
                CREATE INDEX entries_spiffe_id ON entries (spiffe_id);
                CREATE INDEX entries_parent_id ON entries (parent_id);
                CREATE TABLE entry_selectors (
                    entry_id TEXT NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
                    type TEXT NOT NULL,
                    value TEXT NOT NULL,
                    PRIMARY KEY (entry_id, type, value));
                CREATE INDEX entry_selectors_selector ON entry_selectors (type, value);
                CREATE TABLE entry_federates_with (
                    entry_id TEXT NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
                    trust_domain TEXT NOT NULL,
                    PRIMARY KEY (entry_id, trust_domain));
                CREATE INDEX entry_federates_with_trust_domain ON entry_federates_with (trust_domain);
                CREATE TABLE entry_tombstones (entry_id TEXT PRIMARY KEY, revision INTEGER NOT NULL UNIQUE);
                CREATE TABLE join_tokens (id TEXT PRIMARY KEY, secret_hash BLOB NOT NULL, expires_at INTEGER NOT NULL, alias TEXT);
                CREATE INDEX join_tokens_expires_at ON join_tokens (expires_at);
                CREATE TABLE nodes (
                    spiffe_id TEXT PRIMARY KEY,
                    attestation_type TEXT NOT NULL,
                    cert_serial TEXT NOT NULL,
                    cert_not_after INTEGER NOT NULL,
                    selectors TEXT NOT NULL,
                    banned INTEGER NOT NULL,
                    created_at INTEGER NOT NULL);
                CREATE TABLE authorities (
                    kind TEXT NOT NULL,
                    id TEXT NOT NULL,
                    server_id TEXT NOT NULL,
                    state TEXT NOT NULL,
                    tainted INTEGER NOT NULL,
                    certificate_der BLOB,
                    upstream_chain_der BLOB,
                    public_key BLOB,
                    not_before INTEGER NOT NULL,
                    not_after INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    PRIMARY KEY (kind, id));
                CREATE TABLE bundles (trust_domain TEXT PRIMARY KEY, document TEXT NOT NULL, updated_at INTEGER NOT NULL);
                """,
            Postgres: """
                CREATE TABLE counters (name text COLLATE "C" PRIMARY KEY, value bigint NOT NULL);
                INSERT INTO counters (name, value) VALUES ('revision', 0);
                CREATE TABLE entries (
                    id text COLLATE "C" PRIMARY KEY,
                    revision bigint NOT NULL UNIQUE,
                    spiffe_id text COLLATE "C" NOT NULL,
                    parent_id text COLLATE "C" NOT NULL,
                    selectors text NOT NULL,
                    identity_hash bytea NOT NULL UNIQUE,
                    x509_svid_ttl_ms bigint,
                    jwt_svid_ttl_ms bigint,
                    federates_with text NOT NULL,
                    dns_names text NOT NULL,
                    hint text,
                    admin boolean NOT NULL,
                    downstream boolean NOT NULL,
                    created_at bigint NOT NULL);
                CREATE INDEX entries_spiffe_id ON entries (spiffe_id);
                CREATE INDEX entries_parent_id ON entries (parent_id);
                CREATE TABLE entry_selectors (
                    entry_id text COLLATE "C" NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
                    type text COLLATE "C" NOT NULL,
                    value text COLLATE "C" NOT NULL,
                    PRIMARY KEY (entry_id, type, value));
                CREATE INDEX entry_selectors_selector ON entry_selectors (type, value);
                CREATE TABLE entry_federates_with (
                    entry_id text COLLATE "C" NOT NULL REFERENCES entries (id) ON DELETE CASCADE,
                    trust_domain text COLLATE "C" NOT NULL,
                    PRIMARY KEY (entry_id, trust_domain));
                CREATE INDEX entry_federates_with_trust_domain ON entry_federates_with (trust_domain);
                CREATE TABLE entry_tombstones (entry_id text COLLATE "C" PRIMARY KEY, revision bigint NOT NULL UNIQUE);
                CREATE TABLE join_tokens (id text COLLATE "C" PRIMARY KEY, secret_hash bytea NOT NULL, expires_at bigint NOT NULL, alias text);
                CREATE INDEX join_tokens_expires_at ON join_tokens (expires_at);
                CREATE TABLE nodes (
                    spiffe_id text COLLATE "C" PRIMARY KEY,
                    attestation_type text NOT NULL,
                    cert_serial text NOT NULL,
                    cert_not_after bigint NOT NULL,
                    selectors text NOT NULL,
                    banned boolean NOT NULL,
                    created_at bigint NOT NULL);
                CREATE TABLE authorities (
                    kind text COLLATE "C" NOT NULL,
                    id text COLLATE "C" NOT NULL,
                    server_id text NOT NULL,
                    state text NOT NULL,
                    tainted boolean NOT NULL,
                    certificate_der bytea,
                    upstream_chain_der bytea,
                    public_key bytea,
                    not_before bigint NOT NULL,
                    not_after bigint NOT NULL,
                    created_at bigint NOT NULL,
                    PRIMARY KEY (kind, id));
                CREATE TABLE bundles (trust_domain text COLLATE "C" PRIMARY KEY, document text NOT NULL, updated_at bigint NOT NULL);
                """),

        // The renewed agent SVID stays pending next to the current one until the agent first uses
        // it, so an agent that lost the renewal's answer is not locked out. Null on existing rows.
        new Migration(
            2,
            "nodes: pending renewed SVID serial and not-after",
            Sqlite: """
                ALTER TABLE nodes ADD COLUMN pending_cert_serial TEXT;
                ALTER TABLE nodes ADD COLUMN pending_cert_not_after INTEGER;
                """,
            Postgres: """
                ALTER TABLE nodes ADD COLUMN pending_cert_serial text, ADD COLUMN pending_cert_not_after bigint;
                """),

        // Federation relationships (kind: FederatedTrustDomain) with their refresh state in the same
        // row, so every server sharing the database and the governance commands see one record.
        new Migration(
            3,
            "federation relationships and their refresh state",
            Sqlite: """
                CREATE TABLE federation_relationships (
                    trust_domain TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    owner TEXT NOT NULL,
                    url TEXT NOT NULL,
                    profile TEXT NOT NULL,
                    endpoint_spiffe_id TEXT,
                    ca_bundle_pem TEXT,
                    max_staleness_ms INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    last_success INTEGER,
                    last_attempt INTEGER,
                    last_error TEXT,
                    last_error_at INTEGER,
                    next_refresh INTEGER,
                    consecutive_failures INTEGER NOT NULL);
                """,
            Postgres: """
                CREATE TABLE federation_relationships (
                    trust_domain text COLLATE "C" PRIMARY KEY,
                    name text NOT NULL,
                    owner text NOT NULL,
                    url text NOT NULL,
                    profile text NOT NULL,
                    endpoint_spiffe_id text,
                    ca_bundle_pem text,
                    max_staleness_ms bigint NOT NULL,
                    created_at bigint NOT NULL,
                    updated_at bigint NOT NULL,
                    last_success bigint,
                    last_attempt bigint,
                    last_error text,
                    last_error_at bigint,
                    next_refresh bigint,
                    consecutive_failures integer NOT NULL);
                """),

        // The trust domain's communication policy: one row (applying replaces it), with a version
        // the server assigns (+1 per apply that changes the text) so agents can tell it changed.
        new Migration(
            4,
            "communication policy",
            Sqlite: """
                CREATE TABLE policy (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    name TEXT NOT NULL,
                    document TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL);
                """,
            Postgres: """
                CREATE TABLE policy (
                    id integer PRIMARY KEY CHECK (id = 1),
                    name text NOT NULL,
                    document text NOT NULL,
                    version bigint NOT NULL,
                    updated_at bigint NOT NULL);
                """),

        // A relationship's revision, so that an update is made from the declaration its writer read
        // (a stale one is refused instead of overwriting a newer one); existing rows start at 1.
        new Migration(
            5,
            "federation relationship revisions",
            Sqlite: "ALTER TABLE federation_relationships ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;",
            Postgres: "ALTER TABLE federation_relationships ADD COLUMN revision bigint NOT NULL DEFAULT 1;"),

        // Approval and review (issue 15 item 1): who approved a relationship, when, why, which
        // authorities its bundle held then, and how often it is reviewed. Existing rows stay
        // unapproved: with federation.requireApproval (the default) they are pending after the upgrade.
        new Migration(
            6,
            "federation relationship approval, review and rotation observations",
            Sqlite: """
                ALTER TABLE federation_relationships ADD COLUMN review_every_ms INTEGER;
                ALTER TABLE federation_relationships ADD COLUMN approved_at INTEGER;
                ALTER TABLE federation_relationships ADD COLUMN approved_by_uid INTEGER;
                ALTER TABLE federation_relationships ADD COLUMN approved_by TEXT;
                ALTER TABLE federation_relationships ADD COLUMN approval_note TEXT;
                ALTER TABLE federation_relationships ADD COLUMN approved_authorities TEXT;
                ALTER TABLE federation_relationships ADD COLUMN rotation_gap_at INTEGER;
                """,
            Postgres: """
                ALTER TABLE federation_relationships ADD COLUMN review_every_ms bigint;
                ALTER TABLE federation_relationships ADD COLUMN approved_at bigint;
                ALTER TABLE federation_relationships ADD COLUMN approved_by_uid bigint;
                ALTER TABLE federation_relationships ADD COLUMN approved_by text;
                ALTER TABLE federation_relationships ADD COLUMN approval_note text;
                ALTER TABLE federation_relationships ADD COLUMN approved_authorities text;
                ALTER TABLE federation_relationships ADD COLUMN rotation_gap_at bigint;
                """),

        // Observed use (issue 15 item 3): per federated trust domain, reporting agent, direction and listener,
        // the allowed and denied counts and when each was last seen, summed over the agents' reports;
        // and the clock skew seen at the last fetch from each peer's endpoint (issue 15 item 2).
        new Migration(
            7,
            "federation observed use and clock skew",
            Sqlite: """
                ALTER TABLE federation_relationships ADD COLUMN clock_skew_ms INTEGER;
                CREATE TABLE federation_usage (
                    trust_domain TEXT NOT NULL,
                    agent_id TEXT NOT NULL,
                    direction TEXT NOT NULL,
                    allowed INTEGER NOT NULL,
                    denied INTEGER NOT NULL,
                    last_allowed INTEGER,
                    last_denied INTEGER,
                    reported_at INTEGER NOT NULL,
                    listener TEXT NOT NULL,
                    PRIMARY KEY (trust_domain, agent_id, direction, listener));
                """,
            Postgres: """
                ALTER TABLE federation_relationships ADD COLUMN clock_skew_ms bigint;
                CREATE TABLE federation_usage (
                    trust_domain text COLLATE "C" NOT NULL,
                    agent_id text COLLATE "C" NOT NULL,
                    direction text NOT NULL,
                    allowed bigint NOT NULL,
                    denied bigint NOT NULL,
                    last_allowed bigint,
                    last_denied bigint,
                    reported_at bigint NOT NULL,
                    listener text COLLATE "C" NOT NULL,
                    PRIMARY KEY (trust_domain, agent_id, direction, listener));
                """),

        // Fetch history (issue 16 item 2, issue 15 item 2): the latest fetches of each relationship's
        // bundle endpoint with their outcome and what the peer served, pruned to
        // FederationFetch.HistoryLimit per trust domain on insert; the id orders fetches of one millisecond.
        // And the sequence of each federated bundle every agent last reported holding (issue 15 item 4),
        // and the authorities revoked from the journal, for the console's timeline (issue 16).
        new Migration(
            8,
            "federation fetch history, held bundle sequences and revoked authorities",
            Sqlite: """
                CREATE TABLE federation_fetches (
                    id INTEGER PRIMARY KEY,
                    trust_domain TEXT NOT NULL,
                    fetched_at INTEGER NOT NULL,
                    outcome TEXT NOT NULL,
                    message TEXT,
                    sequence INTEGER,
                    refresh_hint_ms INTEGER,
                    clock_skew_ms INTEGER);
                CREATE INDEX federation_fetches_trust_domain ON federation_fetches (trust_domain, fetched_at);
                CREATE TABLE federation_held (
                    trust_domain TEXT NOT NULL,
                    agent_id TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    reported_at INTEGER NOT NULL,
                    PRIMARY KEY (trust_domain, agent_id));
                CREATE INDEX federation_held_agent_id ON federation_held (agent_id);
                CREATE TABLE revoked_authorities (
                    kind TEXT NOT NULL,
                    id TEXT NOT NULL,
                    server_id TEXT NOT NULL,
                    tainted INTEGER NOT NULL,
                    not_before INTEGER NOT NULL,
                    not_after INTEGER NOT NULL,
                    revoked_at INTEGER NOT NULL,
                    PRIMARY KEY (kind, id));
                """,
            Postgres: """
                CREATE TABLE federation_fetches (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    trust_domain text COLLATE "C" NOT NULL,
                    fetched_at bigint NOT NULL,
                    outcome text NOT NULL,
                    message text,
                    sequence bigint,
                    refresh_hint_ms bigint,
                    clock_skew_ms bigint);
                CREATE INDEX federation_fetches_trust_domain ON federation_fetches (trust_domain, fetched_at);
                CREATE TABLE federation_held (
                    trust_domain text COLLATE "C" NOT NULL,
                    agent_id text COLLATE "C" NOT NULL,
                    sequence bigint NOT NULL,
                    reported_at bigint NOT NULL,
                    PRIMARY KEY (trust_domain, agent_id));
                CREATE INDEX federation_held_agent_id ON federation_held (agent_id);
                CREATE TABLE revoked_authorities (
                    kind text COLLATE "C" NOT NULL,
                    id text COLLATE "C" NOT NULL,
                    server_id text NOT NULL,
                    tainted boolean NOT NULL,
                    not_before bigint NOT NULL,
                    not_after bigint NOT NULL,
                    revoked_at bigint NOT NULL,
                    PRIMARY KEY (kind, id));
                """),
    ];

    /// <summary>The schema version this build writes.</summary>
    public static int Latest => All[^1].Version;
}
