import type { Need } from "./iam-evidence.ts";
import {
  ALLOWED_MANAGED_POLICIES,
  type FunctionRole,
  type Grant,
  wildcardMatch,
} from "./iam-template.ts";

/** What the check found wrong with the roles, each line naming the function and the statement. */
export interface RoleFindings {
  /** A need no statement of the function's role allows (or one denies): AccessDenied on AWS. */
  missing: string[];
  /** An allowed (action, resource) pair of a role that no recorded call of its function needs. */
  unused: string[];
  /** Roles shared between functions, wildcard actions, `*` resources, foreign managed policies. */
  structure: string[];
}

const grants = (grant: Grant, need: Need) =>
  wildcardMatch(grant.action, need.action, true) && wildcardMatch(grant.resource, need.resource);

function describe(grant: Grant): string {
  return `${grant.where}: ${grant.action} on ${grant.resource}`;
}

/**
 * An S3 object pattern must name its folder (`bucket/exports/*`, not `bucket/*`); any other
 * pattern may have wildcards only after the resource's name (`table/x/index/*`).
 */
function tooBroad(resource: string): boolean {
  if (resource === "*") return true;
  const s3 = /^arn:aws:s3:::([^/]*)(?:\/([^/]*))?/.exec(resource);
  if (s3) return /[*?]/.test(s3[1] ?? "*") || (s3[2] !== undefined && /[*?]/.test(s3[2]));
  const [, , , region, account, name] = resource.split(":");
  return [region, account].some((part) => part === "*") || /^[*?]/.test(name ?? "*");
}

/** Checks every function's role against what its code was seen to call. */
export function checkRoles(roles: FunctionRole[], needs: Need[]): RoleFindings {
  const findings: RoleFindings = { missing: [], unused: [], structure: [] };
  const byRole = new Map<string, string[]>();
  for (const role of roles)
    byRole.set(role.roleId, [...(byRole.get(role.roleId) ?? []), role.name]);
  for (const [roleId, names] of byRole) {
    if (names.length > 1) findings.structure.push(`${roleId} is shared by ${names.join(", ")}`);
  }
  const known = new Set(roles.map((role) => role.name));
  for (const name of new Set(needs.map((need) => need.function))) {
    if (!known.has(name)) findings.structure.push(`${name} made calls but is not in the template`);
  }
  for (const role of roles) {
    const own = needs.filter((need) => need.function === role.name);
    for (const policy of role.managedPolicies) {
      if (!ALLOWED_MANAGED_POLICIES.includes(policy)) {
        findings.structure.push(`${role.name}: managed policy ${policy} is not checked here`);
      }
    }
    for (const grant of role.grants) {
      if (/[*?]/.test(grant.action)) {
        findings.structure.push(`${role.name}: wildcard action in ${describe(grant)}`);
      }
      if (tooBroad(grant.resource)) {
        findings.structure.push(`${role.name}: too broad a resource in ${describe(grant)}`);
      }
      if (grant.condition !== undefined) {
        findings.structure.push(
          `${role.name}: a condition the check does not read in ${describe(grant)}`,
        );
      }
    }
    for (const need of own) {
      const allowed = role.grants.some((g) => g.effect === "Allow" && grants(g, need));
      const denied = role.grants.some((g) => g.effect === "Deny" && grants(g, need));
      if (!allowed || denied) {
        findings.missing.push(
          `${role.name} (${role.roleId}): ${need.action} on ${need.shape} for ${need.via}${denied ? " is denied" : ""}`,
        );
      }
    }
    for (const grant of role.grants.filter((g) => g.effect === "Allow")) {
      if (!own.some((need) => grants(grant, need))) {
        findings.unused.push(`${role.name}: ${describe(grant)} is never needed`);
      }
    }
  }
  for (const list of Object.values(findings)) list.sort();
  return {
    missing: [...new Set(findings.missing)],
    unused: [...new Set(findings.unused)],
    structure: [...new Set(findings.structure)],
  };
}

/** The recorded command -> action table, per function (markdown). */
export function needsTable(roles: FunctionRole[], needs: Need[]): string {
  const lines: string[] = [];
  for (const role of [...roles].sort((a, b) => a.name.localeCompare(b.name))) {
    const rows = new Set(
      needs
        .filter((need) => need.function === role.name)
        .map((need) => `| ${need.via} | \`${need.action}\` | ${need.shape} |`),
    );
    lines.push(`### ${role.name} (role ${role.roleId})`, "");
    if (rows.size === 0) {
      lines.push("No AWS call: the role holds only the Lambda basic execution policy.", "");
      continue;
    }
    lines.push("| command | IAM action | resource |", "|---|---|---|", ...[...rows].sort(), "");
  }
  return lines.join("\n");
}
