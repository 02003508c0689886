// A stand-in for mongosh running a --file script against a three-member replica set held in
// memory: `mongosh --host H -u U -p P --file F` with the set described by the JSON in
// $FAKE_REPLICA_SET ({initiated, primary, electedAfterSleeps, rootPassword, users}); the set as
// the script left it is written to the file $FAKE_REPLICA_SET_STATE.
"use strict";
const fs = require("fs");
const vm = require("vm");

const args = process.argv.slice(2);
const option = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const set = JSON.parse(process.env.FAKE_REPLICA_SET);
set.users = set.users || {};
set.primary = set.primary || null;
set.writes = [];
const members = ["mongo1:27017", "mongo2:27017", "mongo3:27017"];
const serverError = (codeName, message) => Object.assign(new Error(message), { codeName });
const canonical = (host) => (host.includes(":") ? host : `${host}:27017`);

function authenticate(user, password) {
  if (user !== "root" || password !== set.rootPassword) throw serverError("AuthenticationFailed", "Authentication failed.");
}

// A connection to one member (direct) or to the set (routed to the primary, as drivers do).
function connection(host) {
  const member = () => {
    if (host !== "rs0") return host;
    if (!set.primary) throw serverError("ServerSelectionError", "Server selection timed out");
    return set.primary;
  };
  const database = (name) => ({
    getSiblingDB: (other) => database(other),
    hello: () => ({ isWritablePrimary: set.primary === member(), primary: set.primary ?? undefined }),
    getUser: (user) => (set.users[`${name}.${user}`] ? { user } : null),
    createUser: (spec) => write(name, "createUser", spec),
    updateUser: (user, update) => write(name, "updateUser", { user, ...update }),
  });
  const write = (name, command, spec) => {
    const target = member();
    if (set.primary !== target) throw serverError("NotWritablePrimary", `not primary: ${target}`);
    set.users[`${name}.${spec.user}`] = { pwd: spec.pwd };
    set.writes.push({ command, db: name, user: spec.user, on: target });
  };
  return { getDB: database };
}

const sandbox = {
  process: { env: { ...process.env } },
  print: (...values) => console.log(...values),
  sleep: () => {
    if (set.primary || set.electedAfterSleeps === undefined || !set.initiated) return;
    if (--set.electedAfterSleeps <= 0) set.primary = "mongo1:27017";
  },
  Mongo: function Mongo(uri) {
    // Several hosts are no WHATWG URL: split the connection string as drivers do.
    const parts = /^mongodb:\/\/(?:([^:@/]*):([^@/]*)@)?([^/?]+)\/?(?:\?(.*))?$/.exec(uri);
    if (!parts) throw new Error(`not a connection string: ${uri}`);
    authenticate(decodeURIComponent(parts[1] || ""), decodeURIComponent(parts[2] || ""));
    const hosts = parts[3].split(",").map(canonical);
    const replicaSet = new URLSearchParams(parts[4] || "").get("replicaSet");
    if (replicaSet !== null) {
      if (replicaSet !== "rs0" || !set.initiated) throw serverError("ServerSelectionError", "no such replica set");
      return connection("rs0");
    }
    if (hosts.length !== 1) throw new Error(`several hosts and no replica set: ${uri}`);
    return connection(hosts[0]);
  },
  rs: {
    status: () => {
      if (!set.initiated) throw serverError("NotYetInitialized", "no replset config has been received");
      return { set: "rs0" };
    },
    initiate: (config) => {
      if (set.initiated) throw serverError("AlreadyInitialized", "already initialized");
      const hosts = config.members.map((m) => m.host);
      if (config._id !== "rs0" || JSON.stringify(hosts) !== JSON.stringify(members)) {
        throw new Error(`unexpected configuration ${JSON.stringify(config)}`);
      }
      set.initiated = true;
      return { ok: 1 };
    },
  },
};
authenticate(option("-u"), option("-p"));
if (option("--authenticationDatabase") !== "admin") throw new Error("root authenticates against admin");
sandbox.db = connection(canonical(option("--host"))).getDB("test");

let failure;
try {
  vm.runInNewContext(fs.readFileSync(option("--file"), "utf8"), sandbox, { filename: option("--file") });
} catch (error) {
  failure = error;
}
fs.writeFileSync(process.env.FAKE_REPLICA_SET_STATE, JSON.stringify(set));
if (failure) {
  console.error(`${failure.codeName || "Error"}: ${failure.message}`);
  process.exit(1);
}
