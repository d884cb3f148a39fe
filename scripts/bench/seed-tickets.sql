-- Bench data for the ticket list (PostgreSQL): 100,000 customers and 300,000 tickets in the
-- workspace with slug :'slug', plus 20 agents. Run after `vafa migrate` and `vafa create-workspace`.
-- psql -v slug=bench -f scripts/bench/seed-tickets.sql
\set ON_ERROR_STOP on
BEGIN;
SELECT id AS ws FROM workspace WHERE slug = :'slug' \gset

INSERT INTO "user" (id, workspace_id, email, password_hash, name, role, active, created_at, updated_at)
SELECT gen_random_uuid(), :'ws', 'agent' || g || '@bench.example', 'x', 'Agent ' || g, 'AGENT', true, now(), now()
FROM generate_series(1, 20) g;

INSERT INTO customer (id, workspace_id, name, email, lifecycle_stage, lifecycle_changed_at, marketing_consent,
                      order_count, total_spent_minor, interests, created_at, updated_at)
SELECT gen_random_uuid(), :'ws', 'Customer ' || g, 'c' || g || '@bench.example', 'ACTIVE', now(), false,
       0, 0, '[]', now() - (g % 1000) * interval '1 hour', now()
FROM generate_series(1, 100000) g;

CREATE TEMP TABLE bench_customer AS
SELECT id, row_number() OVER (ORDER BY id) AS n FROM customer WHERE workspace_id = :'ws';
CREATE TEMP TABLE bench_agent AS
SELECT id, row_number() OVER (ORDER BY id) AS n FROM "user" WHERE workspace_id = :'ws' AND role = 'AGENT';

INSERT INTO ticket (id, workspace_id, number, kind, customer_id, subject, body, channel, category, priority,
                    priority_rank, status, is_public, assignee_id, escalation_level, reopen_count, sla_status,
                    sla_breached, first_response_due_at, resolution_due_at, resolution_elapsed_business_secs,
                    created_at, updated_at)
SELECT gen_random_uuid(), :'ws', g, 'COMPLAINT', c.id, 'Complaint ' || g, 'Something went wrong with order ' || g,
       (ARRAY['PHONE','EMAIL','SMS','CHAT','WEB_FORM','SOCIAL','IN_PERSON'])[1 + g % 7],
       (ARRAY['PRODUCT_QUALITY','LATE_DELIVERY','PRICE','STAFF_BEHAVIOR','BILLING','VARIETY','COMPETITOR_OFFER','OTHER'])[1 + g % 8],
       (ARRAY['LOW','NORMAL','HIGH','URGENT'])[1 + g % 4], 1 + g % 4,
       (ARRAY['NEW','OPEN','PENDING_CUSTOMER','ESCALATED','RESOLVED','CLOSED','CLOSED','CLOSED'])[1 + g % 8],
       g % 13 = 0, a.id, 0, 0, 'ON_TRACK', g % 10 = 0,
       now() - (g * interval '1 minute') + interval '4 hours', now() - (g * interval '1 minute') + interval '1 day', 0,
       now() - (g * interval '1 minute'), now()
FROM generate_series(1, 300000) g
JOIN bench_customer c ON c.n = 1 + g % 100000
JOIN bench_agent a ON a.n = 1 + g % 20;

INSERT INTO ticket_counter (workspace_id, last_number) VALUES (:'ws', 300000);
COMMIT;
ANALYZE;
