/** A small Server-Sent Events reader for tests and the benchmark: frames as they arrive over fetch. */

export interface SseFrame {
  event: string;
  id: string | undefined;
  // biome-ignore lint/suspicious/noExplicitAny: frames carry arbitrary JSON
  data: any;
}

export interface SseStream {
  status: number;
  headers: Headers;
  /** The next frame (comments are collected in `comments`), or undefined once the stream has closed. */
  next(): Promise<SseFrame | undefined>;
  /** Frames until (and with) the first of type `type`, or until the stream closes. */
  until(type: string): Promise<SseFrame[]>;
  comments: string[];
  /** The body of an answer that is no stream (an error), parsed. */
  // biome-ignore lint/suspicious/noExplicitAny: error bodies are arbitrary JSON
  json(): Promise<any>;
  close(): Promise<void>;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const response = await fetch(url, { headers: { accept: "text/event-stream", ...headers } });
  const reader = response.body?.getReader();
  const decoder = new TextDecoder();
  const comments: string[] = [];
  let buffer = "";
  let done = false;
  const next = async (): Promise<SseFrame | undefined> => {
    for (;;) {
      const end = buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const frame = parseBlock(block, comments);
        if (frame !== undefined) return frame;
        continue;
      }
      if (done || reader === undefined) return undefined;
      const chunk = await reader.read();
      if (chunk.done) done = true;
      else buffer += decoder.decode(chunk.value, { stream: true });
    }
  };
  return {
    status: response.status,
    headers: response.headers,
    comments,
    next,
    async until(type) {
      const frames: SseFrame[] = [];
      for (;;) {
        const frame = await next();
        if (frame === undefined) return frames;
        frames.push(frame);
        if (frame.event === type) return frames;
      }
    },
    async json() {
      let text = buffer;
      while (reader !== undefined) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += decoder.decode(chunk.value, { stream: true });
      }
      return JSON.parse(text);
    },
    async close() {
      await reader?.cancel().catch(() => undefined);
    },
  };
}

function parseBlock(block: string, comments: string[]): SseFrame | undefined {
  let event = "message";
  let id: string | undefined;
  const data: string[] = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) comments.push(line.slice(1).trim());
    else if (line.startsWith("event: ")) event = line.slice(7);
    else if (line.startsWith("id: ")) id = line.slice(4);
    else if (line.startsWith("data: ")) data.push(line.slice(6));
  }
  if (data.length === 0) return undefined;
  return { event, id, data: JSON.parse(data.join("\n")) };
}
