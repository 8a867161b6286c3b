import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { parse, type Tags } from "yaml";

/** A CloudFormation intrinsic function written with a short-form tag (`!Ref X`, `!GetAtt X.Arn`). */
export interface Intrinsic {
  fn: string;
  value: unknown;
}

const INTRINSICS = ["Ref", "GetAtt", "Join", "Sub", "Select", "Split", "If", "Equals", "Not"];
const customTags: Tags = INTRINSICS.flatMap((fn) =>
  (["scalar", "seq", "map"] as const).map((nodeClass) => ({
    tag: `!${fn}`,
    collection: nodeClass === "scalar" ? undefined : nodeClass,
    identify: () => false,
    resolve: (value: unknown) => ({ fn, value: toJs(value) }) satisfies Intrinsic,
  })),
) as Tags;

function toJs(value: unknown): unknown {
  if (value && typeof value === "object" && "toJSON" in value) {
    return (value as { toJSON(): unknown }).toJSON();
  }
  return value;
}

export function isIntrinsic(value: unknown): value is Intrinsic {
  return typeof value === "object" && value !== null && "fn" in value && "value" in value;
}

export interface HttpRoute {
  method: string;
  path: string;
}

export interface FunctionDefinition {
  name: string;
  /** Module path without extension, relative to the repository root. */
  module: string;
  exportName: string;
  timeoutSeconds: number;
  environment: Record<string, unknown>;
  httpRoutes: HttpRoute[];
  /** Logical ids of the queues the function consumes. */
  queues: { resource: string; batchSize: number }[];
  schedules: string[];
}

/** API Gateway's stage throttle: a token bucket refilled at `rateLimit` per second, `burstLimit` deep. */
export interface HttpApiThrottle {
  rateLimit: number;
  burstLimit: number;
}

export interface ServiceDefinition {
  service: string;
  stage: string;
  environment: Record<string, unknown>;
  functions: FunctionDefinition[];
  /** The HTTP API stage's default route throttle, when `serverless.yml` sets one. */
  httpApiThrottle?: HttpApiThrottle;
  resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
}

const VARIABLE = /\$\{([^{}]+)\}/;

/**
 * The node at `path` (`custom.connections.functions.x.pool`), resolving each variable met on
 * the way: a part of the path may lie inside what a `file(x.cjs)` variable returns.
 */
function lookup(path: string, resolve: (node: unknown) => unknown, root: unknown): unknown {
  return path.split(".").reduce<unknown>((node, key) => {
    const value = (node as Record<string, unknown>)?.[key];
    return typeof value === "string" && VARIABLE.test(value) ? resolve(value) : value;
  }, root);
}

/**
 * A `file(./x.cjs):name` variable: the module's export `name`, called as the framework calls a
 * JavaScript variable source, with the environment the definition is read with.
 */
function fileVariable(source: string, rootDir: string, env: NodeJS.ProcessEnv): unknown {
  const match = /^file\(([^)]+\.c?js)\):(\w+)$/.exec(source);
  if (!match) return undefined;
  const exported = createRequire(join(rootDir, "serverless.yml"))(match[1] as string)[
    match[2] as string
  ];
  return typeof exported === "function" ? exported({ env }) : exported;
}

/** Resolves the framework variables this service uses: self:, sls:stage, opt:, env: with defaults, file(x.cjs). */
function resolveVariables(
  node: unknown,
  root: Record<string, unknown>,
  stage: string,
  env: NodeJS.ProcessEnv,
  rootDir: string,
): unknown {
  if (typeof node === "string") {
    let text = node;
    for (let match = VARIABLE.exec(text); match; match = VARIABLE.exec(text)) {
      const [source, fallback] = (match[1] as string).split(/,\s*/, 2) as [
        string,
        string | undefined,
      ];
      const defaultValue = fallback?.replace(/^['"]|['"]$/g, "");
      let value: unknown;
      if (source === "sls:stage" || source.startsWith("opt:stage")) value = stage;
      else if (source.startsWith("opt:")) value = undefined;
      else if (source.startsWith("env:")) value = env[source.slice(4)] || undefined;
      else if (source.startsWith("file(")) value = fileVariable(source, rootDir, env);
      else if (source.startsWith("self:"))
        value = resolveVariables(
          lookup(
            source.slice(5),
            (inner) => resolveVariables(inner, root, stage, env, rootDir),
            root,
          ),
          root,
          stage,
          env,
          rootDir,
        );
      value ??= defaultValue;
      if (value === undefined) throw new Error(`serverless.yml: cannot resolve \${${match[1]}}`);
      if (match[0] === text && typeof value !== "string") return value;
      text = text.replace(match[0], String(value));
    }
    return text;
  }
  if (Array.isArray(node))
    return node.map((item) => resolveVariables(item, root, stage, env, rootDir));
  if (isIntrinsic(node))
    return { fn: node.fn, value: resolveVariables(node.value, root, stage, env, rootDir) };
  if (node && typeof node === "object") {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [
        key,
        resolveVariables(value, root, stage, env, rootDir),
      ]),
    );
  }
  return node;
}

/** Reads `serverless.yml`: the one description of routes, queues, table and bucket. */
export function loadServiceDefinition(
  rootDir: string,
  stage = "local",
  env: NodeJS.ProcessEnv = process.env,
): ServiceDefinition {
  const raw = parse(readFileSync(join(rootDir, "serverless.yml"), "utf8"), {
    customTags,
  }) as Record<string, unknown>;
  const doc = resolveVariables(raw, raw, stage, env, rootDir) as Record<string, any>;
  const providerTimeout = Number(doc.provider?.timeout ?? 6);
  const functions = Object.entries<Record<string, any>>(doc.functions ?? {}).map(([name, fn]) => {
    const handler = String(fn.handler);
    const dot = handler.lastIndexOf(".");
    const events: Record<string, any>[] = fn.events ?? [];
    return {
      name,
      module: handler.slice(0, dot),
      exportName: handler.slice(dot + 1),
      timeoutSeconds: Number(fn.timeout ?? providerTimeout),
      environment: fn.environment ?? {},
      httpRoutes: events
        .filter((event) => event.httpApi)
        .map((event) =>
          event.httpApi === "*"
            ? { method: "*", path: "*" }
            : {
                method: String(event.httpApi.method).toUpperCase(),
                path: String(event.httpApi.path),
              },
        ),
      queues: events
        .filter((event) => event.sqs)
        .map((event) => {
          const arn = event.sqs.arn ?? event.sqs;
          const resource = isIntrinsic(arn)
            ? String(Array.isArray(arn.value) ? arn.value[0] : arn.value).split(".")[0]
            : "";
          return { resource: resource as string, batchSize: Number(event.sqs.batchSize ?? 10) };
        }),
      schedules: events
        .filter((event) => event.schedule)
        .map((event) => String(event.schedule.rate ?? event.schedule)),
    } satisfies FunctionDefinition;
  });
  const resources: ServiceDefinition["resources"] = doc.resources?.Resources ?? {};
  const stageSettings = Object.values(resources).find(
    (resource) => resource.Type === "AWS::ApiGatewayV2::Stage",
  )?.Properties?.DefaultRouteSettings as Record<string, unknown> | undefined;
  const httpApiThrottle =
    stageSettings?.ThrottlingRateLimit !== undefined
      ? {
          rateLimit: Number(stageSettings.ThrottlingRateLimit),
          burstLimit: Number(
            stageSettings.ThrottlingBurstLimit ?? stageSettings.ThrottlingRateLimit,
          ),
        }
      : undefined;
  return {
    service: String(doc.service),
    stage,
    environment: doc.provider?.environment ?? {},
    functions,
    resources,
    httpApiThrottle,
  };
}
