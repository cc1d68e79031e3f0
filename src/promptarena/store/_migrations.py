"""The results database's schema, as numbered migrations: the database's ``user_version`` is how many have run.

Each is frozen history once released: a change to the schema is a new migration at the end, never an edit.
"""

MIGRATIONS: list[str] = [
    # 1: the cache of generations and scores, runs and their per-case results
    """
    CREATE TABLE generations (
        key TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        request TEXT NOT NULL,
        text TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        latency_s REAL NOT NULL,
        finish_reason TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE scores (
        key TEXT PRIMARY KEY,
        metric TEXT NOT NULL,
        value REAL
    );
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        suite TEXT NOT NULL,
        prompt TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        provenance TEXT NOT NULL,
        summary TEXT
    );
    CREATE INDEX runs_suite ON runs (suite, started_at);
    CREATE TABLE results (
        run_id TEXT NOT NULL REFERENCES runs(id),
        suite TEXT NOT NULL,
        prompt TEXT NOT NULL,
        version TEXT NOT NULL,
        commit_sha TEXT,
        blob TEXT NOT NULL,
        variant TEXT NOT NULL,
        case_id TEXT NOT NULL,
        output TEXT NOT NULL,
        answer TEXT NOT NULL,
        confidence REAL,
        reasoning TEXT,
        details TEXT NOT NULL,
        generation_keys TEXT NOT NULL,
        scores TEXT NOT NULL,
        PRIMARY KEY (run_id, blob, variant, case_id)
    );
    CREATE INDEX results_arm ON results (suite, blob, variant);
    """,
    # 2: people's thumbs up/down on outputs
    """
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY,
        suite TEXT NOT NULL,
        prompt TEXT NOT NULL,
        blob TEXT NOT NULL,
        variant TEXT NOT NULL,
        case_id TEXT NOT NULL,
        output_hash TEXT NOT NULL,
        thumbs_up INTEGER NOT NULL,
        comment TEXT,
        name TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX feedback_arm ON feedback (suite, blob, variant);
    """,
    # 3: which process on which host runs a run, so that one left running by a dead process shows as abandoned
    """
    ALTER TABLE runs ADD COLUMN pid INTEGER;
    ALTER TABLE runs ADD COLUMN host TEXT;
    """,
    # 4: the model of each result (a name from the suite's `models:`, '' for one model), part of its key
    """
    ALTER TABLE results RENAME TO results_before_models;
    CREATE TABLE results (
        run_id TEXT NOT NULL REFERENCES runs(id),
        suite TEXT NOT NULL,
        prompt TEXT NOT NULL,
        version TEXT NOT NULL,
        commit_sha TEXT,
        blob TEXT NOT NULL,
        variant TEXT NOT NULL,
        case_id TEXT NOT NULL,
        output TEXT NOT NULL,
        answer TEXT NOT NULL,
        confidence REAL,
        reasoning TEXT,
        details TEXT NOT NULL,
        generation_keys TEXT NOT NULL,
        scores TEXT NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (run_id, blob, variant, model, case_id)
    );
    INSERT INTO results (run_id, suite, prompt, version, commit_sha, blob, variant, case_id, output, answer,
        confidence, reasoning, details, generation_keys, scores)
    SELECT run_id, suite, prompt, version, commit_sha, blob, variant, case_id, output, answer,
        confidence, reasoning, details, generation_keys, scores FROM results_before_models;
    DROP TABLE results_before_models;
    CREATE INDEX results_arm ON results (suite, blob, variant, model);
    """,
    # 5: results of perturbed cases and prompt layouts beside the case as written ('' = as written), one key more
    """
    CREATE TABLE results_new (
        run_id TEXT NOT NULL REFERENCES runs(id),
        suite TEXT NOT NULL,
        prompt TEXT NOT NULL,
        version TEXT NOT NULL,
        commit_sha TEXT,
        blob TEXT NOT NULL,
        variant TEXT NOT NULL,
        case_id TEXT NOT NULL,
        perturbation TEXT NOT NULL DEFAULT '',
        output TEXT NOT NULL,
        answer TEXT NOT NULL,
        confidence REAL,
        reasoning TEXT,
        details TEXT NOT NULL,
        generation_keys TEXT NOT NULL,
        scores TEXT NOT NULL,
        model TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (run_id, blob, variant, model, case_id, perturbation)
    );
    INSERT INTO results_new (run_id, suite, prompt, version, commit_sha, blob, variant, case_id, output, answer,
        confidence, reasoning, details, generation_keys, scores, model)
    SELECT run_id, suite, prompt, version, commit_sha, blob, variant, case_id, output, answer,
        confidence, reasoning, details, generation_keys, scores, model FROM results ORDER BY rowid;
    DROP TABLE results;
    ALTER TABLE results_new RENAME TO results;
    CREATE INDEX results_arm ON results (suite, blob, variant, model);
    """,
    # 6: one vote per person per output: a voter column in the key; each older row keeps its own voter, legacy:<id>
    """
    CREATE TABLE feedback_new (
        id INTEGER PRIMARY KEY,
        suite TEXT NOT NULL,
        prompt TEXT NOT NULL,
        blob TEXT NOT NULL,
        variant TEXT NOT NULL,
        case_id TEXT NOT NULL,
        output_hash TEXT NOT NULL,
        voter TEXT NOT NULL CHECK (voter <> ''),
        thumbs_up INTEGER NOT NULL,
        comment TEXT,
        name TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (suite, blob, variant, case_id, output_hash, voter)
    );
    INSERT INTO feedback_new (id, suite, prompt, blob, variant, case_id, output_hash, voter, thumbs_up, comment,
        name, created_at)
    SELECT id, suite, prompt, blob, variant, case_id, output_hash, 'legacy:' || id || '@' || created_at, thumbs_up,
        comment, name, created_at FROM feedback ORDER BY id;
    DROP TABLE feedback;
    ALTER TABLE feedback_new RENAME TO feedback;
    CREATE INDEX feedback_arm ON feedback (suite, blob, variant);
    """,
    # 7: how far a running run has come (its phase and done/total), so the workbench shows it from any page
    """
    ALTER TABLE runs ADD COLUMN progress_phase TEXT;
    ALTER TABLE runs ADD COLUMN progress_done INTEGER;
    ALTER TABLE runs ADD COLUMN progress_total INTEGER;
    """,
    # 8: a withdrawn vote keeps its row with no thumb (NULL) and the time of withdrawal, so a merge keeps it withdrawn
    """
    CREATE TABLE feedback_new (
        id INTEGER PRIMARY KEY,
        suite TEXT NOT NULL,
        prompt TEXT NOT NULL,
        blob TEXT NOT NULL,
        variant TEXT NOT NULL,
        case_id TEXT NOT NULL,
        output_hash TEXT NOT NULL,
        voter TEXT NOT NULL CHECK (voter <> ''),
        thumbs_up INTEGER,
        comment TEXT,
        name TEXT,
        created_at TEXT NOT NULL,
        UNIQUE (suite, blob, variant, case_id, output_hash, voter)
    );
    INSERT INTO feedback_new (id, suite, prompt, blob, variant, case_id, output_hash, voter, thumbs_up, comment,
        name, created_at)
    SELECT id, suite, prompt, blob, variant, case_id, output_hash, voter, thumbs_up, comment, name, created_at
        FROM feedback ORDER BY id;
    DROP TABLE feedback;
    ALTER TABLE feedback_new RENAME TO feedback;
    CREATE INDEX feedback_arm ON feedback (suite, blob, variant);
    """,
    # 9: why a case scored what it did (a judge's or a scorer's reason), kept beside the cached score
    """
    ALTER TABLE scores ADD COLUMN reason TEXT;
    """,
    # 10: the top log-probabilities of each generated token, for requests that ask for them (a grader's verdict)
    """
    ALTER TABLE generations ADD COLUMN logprobs TEXT;
    """,
    # 11: full-text search over results: each row's output, answer and input (its first request's last message),
    # kept in step with the results by triggers (a replaced row fires the delete trigger: recursive_triggers is on)
    """
    CREATE VIRTUAL TABLE results_text USING fts5 (output, answer, input);
    CREATE TRIGGER results_text_inserted AFTER INSERT ON results BEGIN
        INSERT INTO results_text (rowid, output, answer, input) VALUES (new.rowid, new.output, new.answer, COALESCE(
            (SELECT json_extract(request, '$.messages[#-1].content') FROM generations
             WHERE key = json_extract(new.generation_keys, '$[0]')), ''));
    END;
    CREATE TRIGGER results_text_updated AFTER UPDATE OF output, answer ON results BEGIN
        UPDATE results_text SET output = new.output, answer = new.answer WHERE rowid = new.rowid;
    END;
    CREATE TRIGGER results_text_deleted AFTER DELETE ON results BEGIN
        DELETE FROM results_text WHERE rowid = old.rowid;
    END;
    INSERT INTO results_text (rowid, output, answer, input)
    SELECT r.rowid, r.output, r.answer, COALESCE(json_extract(g.request, '$.messages[#-1].content'), '')
    FROM results r LEFT JOIN generations g ON g.key = json_extract(r.generation_keys, '$[0]');
    """,
    # 12: the tool calls a generation made, for requests that offered tools (JSON: [{"name", "arguments"}, ...])
    """
    ALTER TABLE generations ADD COLUMN tool_calls TEXT;
    """,
]
