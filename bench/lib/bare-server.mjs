// The bare reference route (issue 13's targets): a plain `fastify()` app, no Nest, no database, one JSON POST
// route that parses the body and answers a small JSON object. It runs as a child of the bench process (see
// bare-route.mjs) so it gets its own event loop, like the service, and the same load generator drives it.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.post('/bare/:orgId/events', async (request) => ({ status: 'accepted', organizationId: request.params.orgId, eventType: request.body?.eventType ?? null }));
const address = await app.listen({ host: '127.0.0.1', port: 0 });
process.stdout.write(`${address}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
