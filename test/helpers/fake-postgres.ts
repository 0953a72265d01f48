// A PostgreSQL server that only ever refuses the password: it asks for a clear-text password and
// answers every login with 28P01, as a server with the wrong password in DATABASE_URL does (the
// test database server trusts every local login, so it cannot show this).
import { once } from 'node:events'
import { createServer, type Server, type Socket } from 'node:net'

const sslRequestCode = 80877103

function errorResponse(fields: Record<string, string>): Buffer {
  const body = Buffer.concat([
    ...Object.entries(fields).map(([type, value]) => Buffer.from(`${type}${value}\0`)),
    Buffer.from([0]),
  ])
  const header = Buffer.alloc(5)
  header.write('E', 0)
  header.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([header, body])
}

function handle(socket: Socket): void {
  let buffer = Buffer.alloc(0)
  let started = false
  socket.on('error', () => undefined)
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk])
    for (;;) {
      if (!started) {
        // Startup and SSL request messages: length (with itself), then a protocol code.
        if (buffer.length < 8) return
        const length = buffer.readInt32BE(0)
        if (buffer.length < length) return
        const code = buffer.readInt32BE(4)
        buffer = buffer.subarray(length)
        if (code === sslRequestCode) {
          socket.write('N')
          continue
        }
        started = true
        // AuthenticationCleartextPassword.
        const ask = Buffer.alloc(9)
        ask.write('R', 0)
        ask.writeInt32BE(8, 1)
        ask.writeInt32BE(3, 5)
        socket.write(ask)
        continue
      }
      // A typed message: the password ('p').
      if (buffer.length < 5) return
      const length = buffer.readInt32BE(1)
      if (buffer.length < length + 1) return
      buffer = buffer.subarray(length + 1)
      socket.end(
        errorResponse({
          S: 'FATAL',
          V: 'FATAL',
          C: '28P01',
          M: 'password authentication failed for user "plangate"',
        }),
      )
      return
    }
  })
}

export interface FakePostgres {
  port: number
  close(): Promise<void>
}

export async function startFakePostgres(): Promise<FakePostgres> {
  const server: Server = createServer(handle)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return {
    port: address.port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
