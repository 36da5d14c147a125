"""A tiny warehouse with the real tables' names and columns, for publishing tests (built with SQL)."""

from __future__ import annotations

from pathlib import Path

import duckdb

CORE = """
create table dim_customers (
    customer_id varchar, company_name varchar, country varchar, segment varchar, plan varchar,
    acquisition_channel varchar, signup_date date, account_manager varchar, has_account_manager boolean,
    onboarding_completed_on date, marketing_consent boolean, is_unsubscribed boolean, current_mrr double,
    cancel_date date, is_churned boolean
);
insert into dim_customers (customer_id, company_name, segment, plan, account_manager, current_mrr) values
    ('C1', 'Acme', 'smb', 'pro', null, 100), ('C2', 'Beta', 'enterprise', 'business', 'ann', 900),
    ('C3', 'Gamma', 'smb', 'basic', null, 40), ('C4', 'Delta', 'smb', 'basic', null, null);

create table fct_customer_features (customer_id varchar, snapshot_date date, plan varchar, segment varchar, mrr double);
insert into fct_customer_features values
    ('C1', '2025-12-01', 'basic', 'smb', 50), ('C2', '2025-12-01', 'business', 'enterprise', 900),
    ('C3', '2025-12-01', 'basic', 'smb', 40),
    ('C1', '2026-01-01', 'pro', 'smb', 100), ('C2', '2026-01-01', 'business', 'enterprise', 900),
    ('C3', '2026-01-01', 'basic', 'smb', 40), ('C4', '2026-01-01', 'basic', 'smb', 0);

create table fct_churn_labels (
    customer_id varchar, snapshot_date date, horizon_days integer, horizon_end date, is_mature boolean,
    churned boolean, churn_date date
);
insert into fct_churn_labels (customer_id, snapshot_date, is_mature, churned) values
    ('C1', '2025-12-01', true, true), ('C2', '2025-12-01', true, false), ('C3', '2025-12-01', true, false),
    ('C1', '2026-01-01', false, null), ('C2', '2026-01-01', false, null), ('C3', '2026-01-01', false, null),
    ('C4', '2026-01-01', false, null);

create schema ml;
create table ml.churn_score_history (
    customer_id varchar, snapshot_date timestamp, churn_probability double, risk_tier varchar,
    model_version varchar, policy_version varchar, top_feature varchar, reason_1 varchar, reason_2 varchar,
    reason_3 varchar, scored_at timestamp
);
insert into ml.churn_score_history
    (customer_id, snapshot_date, churn_probability, risk_tier, model_version, reason_1, scored_at) values
    ('C1', '2025-12-01', 0.2, 'low', '1', null, '2025-12-02 08:00'),
    ('C2', '2025-12-01', 0.7, 'high', '1', 'no login', '2025-12-02 08:00'),
    ('C3', '2025-12-01', 0.1, 'low', '1', null, '2025-12-02 08:00'),
    ('C1', '2026-01-01', 0.85, 'critical', '2', 'usage down', '2026-01-02 08:00'),
    ('C2', '2026-01-01', 0.65, 'high', '2', 'no login', '2026-01-02 08:00'),
    ('C3', '2026-01-01', 0.4, 'medium', '2', 'tickets', '2026-01-02 08:00'),
    ('C4', '2026-01-01', 0.05, 'low', '2', null, '2026-01-02 08:00');
create table ml.churn_scores as
    select * from ml.churn_score_history where scored_at = '2026-01-02 08:00';
"""

VALUE = """
create table ml.customer_value (
    customer_id varchar, expected_remaining_months double, customer_value double, valuable boolean
);
insert into ml.customer_value values
    ('C1', 20, 2000, true), ('C2', 30, 20000, true), ('C3', 5, 150, false), ('C4', 1, 0, false);
"""

RETENTION = """
create schema retention;
create table retention.decisions (
    customer_id varchar, snapshot_date timestamp, risk_tier varchar, churn_probability double,
    customer_value double, valuable boolean, factor varchar, playbook varchar, intervention varchar,
    channel varchar, template varchar, timeline_days bigint, offer varchar, offer_cost double,
    expected_uplift double, expected_net_value double, decision varchar, campaign_id varchar, wave bigint,
    decided_on timestamp_s, model_version varchar, policy_version varchar, retention_policy_version varchar,
    ranking varchar, reason_1 varchar, reason_2 varchar, reason_3 varchar
);
insert into retention.decisions (customer_id, snapshot_date, playbook, intervention, offer, decision, campaign_id)
values
    ('C1', '2025-12-01', 'old-playbook', 'discount', '10% off', 'treat', '2025-12-01:old-playbook'),
    ('C1', '2026-01-01', 'rescue', 'call', 'a call', 'control', '2026-01-01:rescue'),
    ('C2', '2026-01-01', 'rescue', 'call', 'a call', 'treat', '2026-01-01:rescue'),
    ('C3', '2026-01-01', 'rescue', 'call', 'a call', 'no_consent', '2026-01-01:rescue');

create table retention.send_ledger (
    customer_id varchar not null, campaign_id varchar not null, wave integer not null, channel varchar,
    intervention varchar, playbook varchar, template varchar, snapshot_date date, risk_tier varchar,
    churn_probability double, model_version varchar, policy_version varchar, retention_policy_version varchar,
    status varchar not null, attempts integer default 0, message_id varchar, last_error varchar,
    created_at timestamp, sent_at timestamp, primary key (customer_id, campaign_id, wave)
);
insert into retention.send_ledger (customer_id, campaign_id, wave, channel, status, created_at, sent_at) values
    ('C1', '2025-12-01:old-playbook', 1, 'email', 'sent', '2025-12-02 09:00', '2025-12-02 09:05'),
    ('C2', '2026-01-01:rescue', 1, 'email', 'failed', '2026-01-02 09:00', null),
    ('C3', '2025-12-01:old-playbook', 1, 'email', 'pending', '2025-12-02 09:00', null);

create table retention.outcomes (
    snapshot_date timestamp, dimension varchar, segment varchar, treated double, treated_churned double,
    treated_churn_rate double, control double, control_churned double, control_churn_rate double,
    save_rate double, save_rate_low double, save_rate_high double, customers_saved double,
    revenue_retained double, cost double, roi double
);
insert into retention.outcomes values
    ('2025-12-01', 'overall', 'all', 80, 8, 0.1, 20, 4, 0.2, 0.1, -0.05, 0.3, 8, 16000, 800, 19),
    ('2025-12-01', 'playbook', 'old-playbook', 80, 8, 0.1, 20, 4, 0.2, 0.1, -0.05, 0.3, 8, 16000, 800, 19);
"""

MONITORING = """
create schema monitoring;
create table monitoring.report_runs (
    report varchar, run_id varchar, run_at timestamp, drift_share double, drifted_columns integer,
    columns integer, dataset_drift boolean, roc_auc double, html_path varchar, model_version varchar,
    evidently_url varchar
);
insert into monitoring.report_runs values
    ('feature_drift', 'r1', '2026-01-02 10:00', 0.1, 2, 20, false, null, '/reports/r1/feature.html', '2', null),
    ('feature_drift', 'r2', '2026-01-09 10:00', 0.6, 12, 20, true, null, '/reports/r2/feature.html', '2', null),
    ('model_performance', 'r2', '2026-01-09 10:00', null, null, null, null, 0.81, '/reports/r2/perf.html', '2',
     'http://127.0.0.1:8000/projects/p');
"""


def build(path: Path, *, value: bool = True, retention: bool = True, monitoring: bool = True) -> Path:
    """A warehouse with the core tables and, as asked, customer value, retention and monitoring."""
    con = duckdb.connect(str(path))
    try:
        con.execute(CORE)
        for wanted, sql in ((value, VALUE), (retention, RETENTION), (monitoring, MONITORING)):
            if wanted:
                con.execute(sql)
    finally:
        con.close()
    return path
