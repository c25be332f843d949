// Runs the front-end flows of docs/front-end.md against a live Interlib server, as a front-end would:
// Apollo Client with a normalised cache and relay-style paging, automatic persisted queries
// sent over GET, and a subscription over graphql-ws. Exits non-zero on the first thing that
// does not hold.
//
//   INTERLIB_URL=http://127.0.0.1:8080 INTERLIB_ADMIN_TOKEN=... INTERLIB_AMBASSADOR_TOKEN=... \
//   INTERLIB_COUNTRY=ZA npm start
import { createHash } from 'node:crypto';
import { ApolloClient, HttpLink, InMemoryCache, split } from '@apollo/client/core/index.js';
import { createPersistedQueryLink } from '@apollo/client/link/persisted-queries/index.js';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions/index.js';
import { getMainDefinition, relayStylePagination } from '@apollo/client/utilities/index.js';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import {
  CountryParticipantsDocument,
  OpenApplicationsDocument,
  RoundStatusDocument,
  RoundsDocument,
} from './generated/graphql.js';

const base = required('INTERLIB_URL');
const country = process.env.INTERLIB_COUNTRY ?? 'ZA';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`failed: ${what}`);
  console.log(`ok - ${what}`);
}

/** Every HTTP request the client sends, to show what went over the wire. */
const sent: { method: string; withText: boolean }[] = [];
const recordingFetch: typeof fetch = async (input, init) => {
  const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
  const method = init?.method ?? 'GET';
  const text = method === 'GET' ? new URL(url).searchParams.has('query') : String(init?.body ?? '').includes('"query"');
  sent.push({ method, withText: text });
  return fetch(input, init);
};

function client(token: string) {
  const http = new HttpLink({ uri: `${base}/graphql`, headers: { authorization: `Bearer ${token}` }, fetch: recordingFetch });
  const persisted = createPersistedQueryLink({
    sha256: (text: string) => createHash('sha256').update(text).digest('hex'),
    useGETForHashedQueries: true,
  });
  const socket = new GraphQLWsLink(
    createClient({
      url: `${base.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { Authorization: `Bearer ${token}` },
    }),
  );
  const link = split(
    ({ query }) => {
      const definition = getMainDefinition(query);
      return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
    },
    socket,
    persisted.concat(http),
  );
  const cache = new InMemoryCache({
    typePolicies: { Country: { keyFields: ['code'], fields: { participants: relayStylePagination(['filter', 'orderBy']) } } },
  });
  return { apollo: new ApolloClient({ link, cache }), socket };
}

async function paging(token: string): Promise<void> {
  const { apollo } = client(token);
  const first = 3;
  // Pages through fetchMore, merged by the cache's relay-style pagination.
  const watched = apollo.watchQuery({ query: CountryParticipantsDocument, variables: { code: country, first } });
  let current = await watched.result();
  const participants = current.data.country?.participants;
  check(!!participants && participants.edges.length === Math.min(first, participants.totalCount), `the first page of ${country}'s participants`);
  for (let i = 0; i < 2 && current.data.country!.participants.pageInfo.hasNextPage; i++) {
    current = await watched.fetchMore({ variables: { after: current.data.country!.participants.pageInfo.endCursor } });
  }
  const merged = watched.getCurrentResult().data!.country!.participants.edges.map((e) => e.node);
  const ids = new Set(merged.map((n) => n.id));
  const total = participants!.totalCount;
  check(merged.length === Math.min(3 * first, total) && ids.size === merged.length, `fetchMore merged ${merged.length} distinct participants`);
  check(merged.every((n) => Array.isArray(n.languages)), 'each participant came with their languages');
}

async function persisted(token: string): Promise<void> {
  const { apollo } = client(token);
  sent.length = 0;
  await apollo.query({ query: RoundsDocument, fetchPolicy: 'network-only' });
  await apollo.query({ query: RoundsDocument, fetchPolicy: 'network-only' });
  const hashOnly = sent.filter((r) => r.method === 'GET' && !r.withText).length;
  check(sent.length === 3 && hashOnly === 2, `persisted query: hash, then the text once, then the hash alone (${JSON.stringify(sent)})`);
}

async function subscription(admin: string): Promise<void> {
  const { apollo } = client(admin);
  const rounds = await apollo.query({ query: RoundsDocument });
  const draft = rounds.data.rounds.nodes.find((r) => r.status === 'DRAFT');
  check(!!draft, 'a round in DRAFT to open');
  const heard = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no roundStatusChanged within 10 s')), 10_000);
    const sub = apollo.subscribe({ query: RoundStatusDocument }).subscribe({
      next: ({ data }) => {
        if (data?.roundStatusChanged.id === draft!.id) {
          clearTimeout(timer);
          sub.unsubscribe();
          resolve(data.roundStatusChanged.status);
        }
      },
      error: reject,
    });
  });
  // Give the socket time to subscribe before the change.
  await new Promise((r) => setTimeout(r, 1_000));
  const opened = await apollo.mutate({ mutation: OpenApplicationsDocument, variables: { roundId: draft!.id } });
  check(opened.data?.openApplications.userErrors.length === 0, 'openApplications as admin');
  check((await heard) === 'OPEN', 'the subscription heard the round open');
}

async function main(): Promise<void> {
  await paging(required('INTERLIB_AMBASSADOR_TOKEN'));
  await persisted(required('INTERLIB_AMBASSADOR_TOKEN'));
  await subscription(required('INTERLIB_ADMIN_TOKEN'));
  console.log('all client checks passed');
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
