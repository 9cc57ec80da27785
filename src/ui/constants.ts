/** Ids of Baton's views, commands, context keys and settings, in one place (they must match package.json). */
export const VIEWS = {
  container: 'baton',
  tasks: 'baton.tasks',
  sessions: 'baton.sessions',
  inbox: 'baton.inbox',
  codeIndex: 'baton.codeIndex',
} as const;

export const COMMANDS = {
  importPlan: 'baton.importPlan',
  refresh: 'baton.refresh',
  createSprint: 'baton.createSprint',
  createTask: 'baton.createTask',
  startTask: 'baton.startTask',
  completeTask: 'baton.completeTask',
  setTaskStatus: 'baton.setTaskStatus',
  setStatusOfTasks: 'baton.setStatusOfTasks',
  addNote: 'baton.addNote',
  appendContext: 'baton.appendContext',
  replaceContext: 'baton.replaceContext',
  addDependency: 'baton.addDependency',
  removeDependency: 'baton.removeDependency',
  addCheckpoint: 'baton.addCheckpoint',
  toggleCheckpoint: 'baton.toggleCheckpoint',
  openTaskDetails: 'baton.openTaskDetails',
  showReadyTasks: 'baton.showReadyTasks',
  showCriticalPath: 'baton.showCriticalPath',
  showActivity: 'baton.showActivity',
  copyMcpConfig: 'baton.copyMcpConfig',
  showLog: 'baton.showLog',
  deleteTask: 'baton.deleteTask',
  answerRequest: 'baton.answerRequest',
  approveRequest: 'baton.approveRequest',
  rejectRequest: 'baton.rejectRequest',
  pauseTask: 'baton.pauseTask',
  interveneTask: 'baton.interveneTask',
  approveTask: 'baton.approveTask',
  sendMessage: 'baton.sendMessage',
  showHandoff: 'baton.showHandoff',
  attachArtifact: 'baton.attachArtifact',
  openArtifact: 'baton.openArtifact',
  deleteArtifact: 'baton.deleteArtifact',
} as const;

export const CONTEXT_KEYS = {
  ready: 'baton.ready',
  unavailable: 'baton.unavailable',
} as const;

export const SETTINGS = {
  mcpEnabled: 'baton.mcp.enabled',
  mcpPort: 'baton.mcp.port',
  mcpMaxRequestBytes: 'baton.mcp.maxRequestBytes',
  userName: 'baton.user.name',
  showCompleted: 'baton.tasks.showCompleted',
  mcpToolTier: 'baton.mcp.toolTier',
  workflowRules: 'baton.workflow.rules',
  inboxNotifications: 'baton.inbox.notifications',
} as const;

export const MCP_PROVIDER_ID = 'baton.mcp';
