import './chatroomd.js';
