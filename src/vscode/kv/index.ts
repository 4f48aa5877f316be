/** The Key/Value features: view, `consul-kv:` file system, documents and commands. */
import * as vscode from 'vscode';
import type { ConnectionManager } from '../connectionManager';
import { KvCommands } from './kvCommands';
import { KvConnections } from './kvConnections';
import { KvDocuments } from './kvDocuments';
import { KvFileSystemProvider } from './kvFileSystem';
import { KV_SCHEME } from './kvUri';
import { KvView } from './kvView';

export interface KvFeatures {
  view: KvView;
  fileSystem: KvFileSystemProvider;
  documents: KvDocuments;
  connections: KvConnections;
}

export function registerKvFeatures(context: vscode.ExtensionContext, connections: ConnectionManager, log: vscode.LogOutputChannel): KvFeatures {
  const kvConnections = new KvConnections(connections);
  const fileSystem = new KvFileSystemProvider(kvConnections);
  const view = new KvView(connections, kvConnections);
  const documents = new KvDocuments(fileSystem);
  context.subscriptions.push(
    kvConnections,
    fileSystem,
    vscode.workspace.registerFileSystemProvider(KV_SCHEME, fileSystem, { isCaseSensitive: true }),
    view,
    documents,
    ...new KvCommands(kvConnections, view, documents, log).register(),
  );
  return { view, fileSystem, documents, connections: kvConnections };
}
