/** A Chef server's Reporting history as a rules source (see ReportingPoller in sources.ts). */
import type { ChefServerClient } from '../chef/server/chefServerClient';
import { getRun, listRuns } from '../chef/server/reporting';
import type { ReportingSource } from './sources';

export function reportingSourceOf(client: ChefServerClient): ReportingSource {
  return {
    // Org-wide, every run that started in the window (reporting.ts sorts and trims for goiardi).
    list: (from) => listRuns(client, { from }),
    get: (runId) => getRun(client, runId),
  };
}
