/** A webhook subscriber on 127.0.0.1 that keeps every POST (its headers and JSON body), answering 204. */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface WebhookServer<T> {
  readonly url: string;
  readonly posts: { headers: IncomingMessage['headers']; body: T }[];
  readonly server: Server;
}

export async function webhookServer<T>(): Promise<WebhookServer<T>> {
  const posts: WebhookServer<T>['posts'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => {
      body += chunk.toString('utf8');
    });
    req.on('end', () => {
      posts.push({ headers: req.headers, body: JSON.parse(body) as T });
      res.writeHead(204).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/nst`, posts, server };
}
